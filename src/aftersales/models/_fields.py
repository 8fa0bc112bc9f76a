"""Field validators shared by the records: every refusal is an :class:`InvalidInput`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs

from aftersales.errors import InvalidInput
from aftersales.models.money import Money, to_decimal

__all__ = [
    "MAX_NAME",
    "MAX_TEXT",
    "a_date",
    "aware",
    "bool_field",
    "check_aware",
    "check_id",
    "check_text",
    "decimal",
    "enum_of",
    "id_field",
    "ids",
    "money_of",
    "optional",
    "text",
    "to_frozenset",
    "to_tuple",
]

MAX_NAME = 256
MAX_TEXT = 20_000

_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable (but a string) to a tuple."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("value", value, "expected a list or tuple")
    return tuple(value)


def to_frozenset(value: Iterable[Any]) -> frozenset[Any]:
    """attrs converter: any iterable (but a string) to a frozenset."""
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
    """Validate a user-facing string: type, blank, length and control characters."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, f"expected text, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInput(field, value, "must not be blank")
    if len(value) > max_length:
        raise InvalidInput(field, value, f"is longer than {max_length} characters")
    allowed = "\n\t\r" if multiline else ""
    for char in value:
        if char not in allowed and unicodedata.category(char) == "Cc":
            raise InvalidInput(field, value, "contains a control character")
    return value


def text(
    *, max_length: int = MAX_NAME, multiline: bool = False, required: bool = True
) -> _Validator:
    """attrs validator for a string field (see :func:`check_text`)."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_text(
            value,
            _name(attribute),
            max_length=max_length,
            multiline=multiline,
            required=required,
        )

    return validate


def check_id(value: object, field: str) -> str:
    """Return ``value`` when it can be an identifier, else raise :class:`InvalidInput`.

    An id is 1-128 ASCII letters, digits or ``_.:/@-``, starting with a letter or digit:
    every stored record's id is one, so anything else (a number, a blank or over-long
    string, control characters, quotes) is refused before it reaches a backend (RL-4).

    >>> check_id("ticket-7", "ticket_id")
    'ticket-7'
    """
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise InvalidInput(
            field, value, "is not a valid id (1-128 letters, digits or _.:/@- , no spaces)"
        )
    return value


def id_field(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for an identifier: short, printable, no spaces."""
    check_id(value, _name(attribute))


def optional(validator: _Validator) -> _Validator:
    """Wrap ``validator`` so that ``None`` passes."""

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
    check_aware(value, _name(attribute))


def a_date(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a calendar date (a datetime is refused)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(_name(attribute), value, "expected a date")


def decimal(
    *, minimum: Decimal | None = None, positive: bool = False, maximum: Decimal | None = None
) -> _Validator:
    """attrs validator for a Decimal with optional bounds."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        field = _name(attribute)
        number = to_decimal(value, field)
        if not isinstance(value, Decimal):
            raise InvalidInput(field, value, "expected a Decimal")
        if positive and number <= 0:
            raise InvalidInput(field, value, "must be greater than zero")
        if minimum is not None and number < minimum:
            raise InvalidInput(field, value, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise InvalidInput(field, value, f"must be at most {maximum}")

    return validate


def money_of(*, positive: bool = False, non_negative: bool = False) -> _Validator:
    """attrs validator for a :class:`Money` field."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        field = _name(attribute)
        if not isinstance(value, Money):
            raise InvalidInput(field, value, "expected Money (a Decimal amount and a currency)")
        if positive and value.amount <= 0:
            raise InvalidInput(field, value, "must be greater than zero")
        if non_negative and value.amount < 0:
            raise InvalidInput(field, value, "must not be negative")

    return validate


def enum_of(kind: type[Enum]) -> _Validator:
    """attrs validator that refuses values that are not members of ``kind``."""

    def validate(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            allowed = ", ".join(str(m.value) for m in kind)
            raise InvalidInput(_name(attribute), value, f"must be one of: {allowed}")

    return validate


def bool_field(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a strict bool."""
    if not isinstance(value, bool):
        raise InvalidInput(_name(attribute), value, "expected True or False")


def ids(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator for a tuple or frozenset of ids."""
    if not isinstance(value, tuple | frozenset):
        raise InvalidInput(_name(attribute), value, "expected a tuple or frozenset of ids")
    for item in value:
        id_field(_inst, attribute, item)
