"""Field validators shared by the records: every refusal is an
[`InvalidInput`][aftersales.errors.InvalidInput].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import attrs

from aftersales.errors import InvalidInput
from aftersales.models.money import MAX_PLACES, Money, check_currency, to_decimal

__all__ = [
    "MAX_NAME",
    "MAX_TEXT",
    "a_date",
    "allowed_values",
    "aware",
    "bool_field",
    "check_aware",
    "check_date",
    "check_id",
    "check_member",
    "check_text",
    "currency_code",
    "decimal",
    "enum_of",
    "id_field",
    "ids",
    "money_of",
    "optional",
    "refused_character",
    "shared_decimal",
    "text",
    "to_frozenset",
    "to_tuple",
]

MAX_NAME = 256
MAX_TEXT = 20_000

_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
_E = TypeVar("_E", bound=Enum)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")
_ID_MATCH = _ID.fullmatch

#: Characters text may never hold, whatever the backend (checked by `check_text()`):
#:
#: * control characters (Unicode category Cc: U+0000-U+001F and U+007F-U+009F); multi-line
#:   text may hold tab, line feed and carriage return;
#: * lone surrogates (U+D800-U+DFFF): not characters at all, a Python `str` can hold them
#:   but no UTF-8 database can store them;
#: * the bidirectional embedding, override and isolate controls (U+202A-U+202E,
#:   U+2066-U+2069), which make text display in another order than it is written (a
#:   trail entry or a reference could be spoofed);
#: * in one-line text, the line and paragraph separators U+2028 and U+2029.
_NEVER = r"\ud800-\udfff\u202a-\u202e\u2066-\u2069"
_REFUSED = re.compile(rf"[\x00-\x1f\x7f-\x9f\u2028\u2029{_NEVER}]")
_REFUSED_IN_TEXT = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_NEVER}]")


def refused_character(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored as text (see `_REFUSED`), or `None`.

    Examples:
        >>> refused_character("Ticket \\u202e#7")
        'contains a bidirectional control character (U+202E)'
        >>> refused_character("two\\nlines", multiline=True) is None
        True
    """
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED).search(value)
    if found is None:
        return None
    char = ord(found.group())
    if 0xD800 <= char <= 0xDFFF:
        return f"contains a lone surrogate (U+{char:04X}), which is not text"
    if char in (0x2028, 0x2029):
        return f"contains a line or paragraph separator (U+{char:04X})"
    if char > 0x9F:
        return f"contains a bidirectional control character (U+{char:04X})"
    return f"contains a control character (U+{char:04X})"


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable (but a string) to a tuple."""
    if type(value) is tuple:
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("value", value, "expected a list or tuple")
    return tuple(value)


def to_frozenset(value: Iterable[Any]) -> frozenset[Any]:
    """attrs converter: any iterable (but a string) to a frozenset."""
    if type(value) is frozenset:
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("value", value, "expected a set, list or tuple")
    return frozenset(value)


def _name(attribute: attrs.Attribute[Any]) -> str:
    return attribute.name


def check_text(
    value: object,
    field: str,
    *,
    max_length: int = MAX_NAME,
    multiline: bool = False,
    required: bool = True,
) -> str:
    """Validate a user-facing string: type, length, blank and the characters it holds.

    The length is checked first, so that a huge string is refused without being scanned.
    Refused: control characters (but tab and line breaks in `multiline` text), lone
    surrogates, bidirectional controls, and line or paragraph separators in one-line text
    (see `refused_character()`): the same text is accepted or refused on every backend.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, value, f"expected text, got {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidInput(field, value, f"is longer than {max_length} characters")
    if required and not value.strip():
        raise InvalidInput(field, value, "must not be blank")
    problem = refused_character(value, multiline=multiline)
    if problem is not None:
        raise InvalidInput(field, value, problem)
    return value


def text(
    *, max_length: int = MAX_NAME, multiline: bool = False, required: bool = True
) -> _Validator:
    """attrs validator for a string field (see `check_text()`)."""
    refused = (_REFUSED_IN_TEXT if multiline else _REFUSED).search

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        # The common case in one test; anything else gets check_text's precise refusal.
        if (
            type(value) is str
            and len(value) <= max_length
            and not (required and (not value or value.isspace()))
            and (value.isprintable() or refused(value) is None)
        ):
            return
        check_text(
            value,
            _name(attribute),
            max_length=max_length,
            multiline=multiline,
            required=required,
        )

    return validate


def check_id(value: object, field: str) -> str:
    """Return `value` when it can be an identifier, else raise
    [`InvalidInput`][aftersales.errors.InvalidInput].

    An id is 1-128 ASCII letters, digits or `_.:/@-`, starting with a letter or digit:
    every stored record's id is one, so anything else (a number, a blank or over-long
    string, control characters, quotes) is refused before it reaches a backend (RL-4).

    Examples:
        >>> check_id("ticket-7", "ticket_id")
        'ticket-7'
    """
    if type(value) is str and _ID_MATCH(value) is not None:  # the common case, first
        return value
    if not isinstance(value, str) or _ID_MATCH(value) is None:
        raise InvalidInput(
            field, value, "is not a valid id (1-128 letters, digits or _.:/@- , no spaces)"
        )
    return value


def id_field(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for an identifier: short, printable, no spaces."""
    if type(value) is str and _ID_MATCH(value) is not None:
        return
    check_id(value, _name(attribute))


def optional(validator: _Validator) -> _Validator:
    """Wrap `validator` so that `None` passes."""

    def validate(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(inst, attribute, value)

    return validate


def check_aware(value: object, field: str) -> datetime:
    """Refuse anything but a timezone-aware datetime (G-6)."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, value, "expected a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value, "must be timezone-aware")
    return value


def aware(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a timezone-aware datetime."""
    if type(value) is datetime and value.tzinfo is not None and value.utcoffset() is not None:
        return
    check_aware(value, _name(attribute))


def check_date(value: object, field: str) -> date:
    """Refuse anything but a calendar date: a datetime (a date too, for Python) is refused."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(field, value, "expected a date (not a datetime)")
    return value


def a_date(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a calendar date (a datetime is refused)."""
    check_date(value, _name(attribute))


def decimal(
    *, minimum: Decimal | None = None, positive: bool = False, maximum: Decimal | None = None
) -> _Validator:
    """attrs validator for a Decimal with optional bounds.

    Every such number is finite, smaller than `MAX_AMOUNT` in
    magnitude and has at most `MAX_PLACES` decimal places
    (it is stored as given, not rounded).
    """

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        field = _name(attribute)
        number = to_decimal(value, field, places=MAX_PLACES)
        if not isinstance(value, Decimal):
            raise InvalidInput(field, value, "expected a Decimal")
        if positive and number <= 0:
            raise InvalidInput(field, value, "must be greater than zero")
        if minimum is not None and number < minimum:
            raise InvalidInput(field, value, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise InvalidInput(field, value, f"must be at most {maximum}")

    return validate


#: Decimals by their exact text, shared by the records that hold an equal-looking one.
_SHARED: dict[str, Decimal] = {}
_SHARED_KEPT = 4096
_SHARED_LONGEST = 24


def shared_decimal(value: Decimal) -> Decimal:
    """attrs converter: a Decimal becomes the one object kept for its exact text, so the
    few quantities that lines and moves repeat (`1`, `2`, `0.5`) cost one object each, not
    one per record (Decimals are immutable; `2` and `2.0` stay distinct). Anything else is
    returned unchanged, for the field's validator to refuse."""
    if type(value) is not Decimal:
        return value
    key = str(value)
    kept = _SHARED.get(key)
    if kept is not None:
        return kept
    if len(_SHARED) < _SHARED_KEPT and len(key) <= _SHARED_LONGEST:
        _SHARED[key] = value
    return value


def money_of(*, positive: bool = False, non_negative: bool = False) -> _Validator:
    """attrs validator for a [`Money`][aftersales.models.money.Money] field."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        field = _name(attribute)
        if not isinstance(value, Money):
            raise InvalidInput(field, value, "expected Money (a Decimal amount and a currency)")
        if positive and value.amount <= 0:
            raise InvalidInput(field, value, "must be greater than zero")
        if non_negative and value.amount < 0:
            raise InvalidInput(field, value, "must not be negative")

    return validate


def allowed_values(kind: type[Enum]) -> str:
    """The values of `kind`, as a refusal lists them.

    Examples:
        >>> from aftersales.models import CreditMethod
        >>> allowed_values(CreditMethod)
        'partial, full, full_and_reinvoice'
    """
    return ", ".join(str(member.value) for member in kind)


def check_member(value: object, kind: type[_E], field: str) -> _E:
    """The member of `kind` that `value` is, or whose exact value it is.

    A member of another enum is refused, even one with the same value, and so is anything
    else (a name, another case, a number): [`InvalidInput`][aftersales.errors.InvalidInput] naming
    `field`, the value and the allowed values.

    Examples:
        >>> from aftersales.models import TaskStage
        >>> check_member("planned", TaskStage, "stage")
        <TaskStage.PLANNED: 'planned'>
    """
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and not isinstance(value, Enum):
        try:
            return kind(value)
        except ValueError:
            pass
    raise InvalidInput(
        field,
        value,
        f"must be one of: {allowed_values(kind)} (a {kind.__name__} or its value)",
    )


def enum_of(kind: type[Enum]) -> _Validator:
    """attrs validator that refuses values that are not members of `kind`."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            raise InvalidInput(_name(attribute), value, f"must be one of: {allowed_values(kind)}")

    return validate


def currency_code(_inst: Any, _attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for an ISO 4217 currency code the library knows (field `currency`)."""
    check_currency(value)


def bool_field(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a strict bool."""
    if not isinstance(value, bool):
        raise InvalidInput(_name(attribute), value, "expected True or False")


def ids(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a tuple or frozenset of ids."""
    if not isinstance(value, tuple | frozenset):
        raise InvalidInput(_name(attribute), value, "expected a tuple or frozenset of ids")
    for item in value:
        if type(item) is not str or not _ID_MATCH(item):
            id_field(_inst, attribute, item)
