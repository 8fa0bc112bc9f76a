"""Outgoing email, kept in an outbox until a transport delivers it (CP-7, CP-8).

Addresses are checked strictly (:func:`check_email_address`): one plain ``local@domain``
per entry, ASCII only (an internationalised domain is written in its ``xn--`` form), no line
breaks or control characters — so nothing a user types can add a header to a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def check_email_address(value: object, field: str = "email") -> str:
    """Return the plain address in ``value`` or raise :class:`InvalidInput`.

    Accepts ``ana@example.com`` and ``Ana Pérez <ana@example.com>`` (the name is dropped).
    Refuses an entry of more than 320 characters (before looking at its characters), line
    breaks and control characters (header injection), what text may never hold (lone
    surrogates, bidirectional controls: see :func:`~aftersales.models._fields.check_text`),
    several addresses in one entry, and anything that is not a plain ASCII
    ``local@domain.tld``.
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
    """``addresses`` without repeats (compared case-insensitively), first one kept."""
    seen: set[str] = set()
    unique: list[str] = []
    for address in addresses:
        key = address.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(address)
    return tuple(unique)


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

    ``recipients`` are plain, valid addresses (never display names), so a transport can use
    them both as the envelope and in the ``To`` header.
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
