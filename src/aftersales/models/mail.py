"""Outgoing email, kept in an outbox until a transport delivers it (CP-7, CP-8).

Addresses are checked strictly (`check_email_address()`): one plain `local@domain`
per entry, ASCII only (an internationalised domain is written in its `xn--` form), no line
breaks or control characters — so nothing a user types can add a header to a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    MAX_TEXT,
    aware,
    enum_of,
    id_field,
    optional,
    refused_character,
    text,
    to_tuple,
)

__all__ = [
    "MAX_RECIPIENTS",
    "UNDELIVERED",
    "DeliveryReport",
    "EmailState",
    "OutgoingEmail",
    "check_email_address",
    "unique_addresses",
]

#: Most recipients one email may have.
MAX_RECIPIENTS: Final = 100

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
_ADDRESS = re.compile(rf"^(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>(?:{_LABEL}\.)+{_TLD})$")
_NAMED = re.compile(r"^(?P<name>[^<>]*)<(?P<address>[^<>]*)>$")
#: Longest entry (a display name and its address, without surrounding spaces).
_MAX_ENTRY: Final = 320


class EmailState(StrEnum):
    """Where an email of the outbox is on its way.

    PENDING (queued by a call, its delivery under way after the commit) → SENDING (claimed by
    a retry run, see `OutgoingEmail.claim`) → SENT, or FAILED (to be retried), or DEAD
    (given up after the most attempts: set aside, retried only once a manager requeues it).
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


#: The states of an email that is still to be delivered (`pending_only` lists these).
UNDELIVERED: Final = frozenset({EmailState.PENDING, EmailState.SENDING, EmailState.FAILED})


def check_email_address(value: object, field: str = "email") -> str:
    """Return the plain address in `value` or raise
    [`InvalidInput`][aftersales.errors.InvalidInput].

    Accepts `ana@example.com` and `Ana Pérez <ana@example.com>` (the name is dropped).
    Refuses an entry of more than 320 characters (before looking at its characters), line
    breaks and control characters (header injection), what text may never hold (lone
    surrogates, bidirectional controls: see `check_text()`),
    several addresses in one entry, and anything that is not a plain ASCII
    `local@domain.tld`.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, value, f"expected an email address, got {type(value).__name__}")
    # The length first: a huge string is refused without being scanned.
    if len(value) > _MAX_ENTRY and len(value.strip()) > _MAX_ENTRY:
        raise InvalidInput(field, value, "is too long for an email address")
    problem = refused_character(value)
    if problem is not None:
        if problem.startswith(("contains a control", "contains a line")):
            problem = "contains a line break or control character (header injection)"
        raise InvalidInput(field, value, problem)
    candidate = value.strip()
    if not candidate:
        raise InvalidInput(field, value, "must not be blank")
    named = _NAMED.match(candidate)
    if named:
        candidate = named.group("address").strip()
    if "," in candidate or ";" in candidate:
        raise InvalidInput(field, value, "give one address per entry")
    match = _ADDRESS.match(candidate)
    if match is None:
        raise InvalidInput(field, value, "is not a valid email address (expected name@domain.tld)")
    if len(match.group("local")) > 64 or len(candidate) > 254:
        raise InvalidInput(field, value, "is too long for an email address")
    return candidate


def unique_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """`addresses` without repeats (compared case-insensitively), first one kept."""
    seen: set[str] = set()
    unique: list[str] = []
    for address in addresses:
        key = address.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(address)
    return tuple(unique)


def _addresses(_inst: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if len(value) > MAX_RECIPIENTS:
        raise InvalidInput(attribute.name, len(value), f"at most {MAX_RECIPIENTS} addresses")
    for address in value:
        if check_email_address(address, attribute.name) != address:
            raise InvalidInput(attribute.name, address, "expected a plain address")


def _check_recipients(_inst: Any, _a: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not value:
        raise InvalidInput("recipients", value, "an email needs at least one recipient")
    if len(value) > MAX_RECIPIENTS:
        raise InvalidInput("recipients", len(value), f"at most {MAX_RECIPIENTS} recipients")
    for address in value:
        if check_email_address(address, "recipients") != address:
            raise InvalidInput("recipients", address, "expected a plain address")


@attrs.frozen(kw_only=True)
class OutgoingEmail:
    """An email queued inside a unit of work and delivered only after it commits.

    `recipients` are plain, valid addresses (never display names), so a transport can use
    them both as the envelope and in the `To` header.

    `accepted` lists the recipients the mail server took, `refused` those it refused
    for good (`last_error` then holds its replies); the others are still to be delivered
    (`undelivered`), and no delivery hands an accepted recipient the email again.
    `claim` and `lease_until` are set while a retry run holds the email (state SENDING):
    no other run takes it before `lease_until` (`Config.mail_lease` after the claim).
    """

    id: str = attrs.field(validator=id_field)
    recipients: tuple[str, ...] = attrs.field(converter=to_tuple, validator=_check_recipients)
    subject: str = attrs.field(validator=text(max_length=998))
    text_body: str = attrs.field(validator=text(max_length=MAX_TEXT, multiline=True))
    html_body: str = attrs.field(validator=text(max_length=MAX_TEXT * 2, multiline=True))
    created_at: datetime = attrs.field(validator=aware)
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    state: EmailState = attrs.field(default=EmailState.PENDING, validator=enum_of(EmailState))
    attempts: int = 0
    last_error: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    sent_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    accepted: tuple[str, ...] = attrs.field(default=(), converter=to_tuple, validator=_addresses)
    refused: tuple[str, ...] = attrs.field(default=(), converter=to_tuple, validator=_addresses)
    claim: str | None = attrs.field(default=None, validator=optional(id_field))
    lease_until: datetime | None = attrs.field(default=None, validator=optional(aware))

    @property
    def undelivered(self) -> tuple[str, ...]:
        """The recipients still to be delivered: neither accepted nor refused for good.

        A transport sends to these (the `To` header still names every recipient).
        """
        done = {address.casefold() for address in (*self.accepted, *self.refused)}
        return tuple(a for a in self.recipients if a.casefold() not in done)


def _replies(field: str, value: object) -> tuple[tuple[str, str], ...]:
    """A mapping of address to server reply (or its pairs, as read back from JSON)."""
    pairs = list(value.items()) if isinstance(value, Mapping) else value
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise InvalidInput(field, value, "expected a mapping of address to server reply")
    replies: list[tuple[str, str]] = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise InvalidInput(field, value, "expected a mapping of address to server reply")
        address, reply = pair
        if not isinstance(address, str) or not isinstance(reply, str):
            raise InvalidInput(field, value, "expected a mapping of address to server reply")
        replies.append((address, reply))
    return tuple(replies)


def _refused(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return _replies("refused", value)


def _deferred(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    return _replies("deferred", value)


@attrs.frozen
class DeliveryReport:
    """What a mail transport answers for an email the server took for some recipients only.

    `refused` maps each address refused for good to the server's reply (e.g. ``"550 5.1.1
    no such user"`), `deferred`` each address refused only for now (a 4xx reply, e.g.
    `"451 4.3.0 try again later"`); the other recipients were accepted. The email is
    delivered again later to the deferred ones only. A transport answers `True` when
    every recipient was accepted, and raises when none was.

    Examples:
        >>> DeliveryReport({"b@example.com": "550 5.1.1 no such user"}).addresses
        ('b@example.com',)
    """

    refused: tuple[tuple[str, str], ...] = attrs.field(converter=_refused)
    deferred: tuple[tuple[str, str], ...] = attrs.field(
        factory=dict, kw_only=True, converter=_deferred
    )

    @property
    def addresses(self) -> tuple[str, ...]:
        """The refused addresses, then the deferred ones."""
        return tuple(address for address, _reply in (*self.refused, *self.deferred))
