"""Checks a public call's arguments: their shape, before anything is looked up (RL-4).

Every service checks its arguments with these functions, so that every call accepts and
refuses the same things in the same words: each refusal is an
[`InvalidInput`][aftersales.errors.InvalidInput] naming the argument (`field`), the value given and
what is expected. What needs the store (does the invoice exist, is the quantity left) is checked
later, inside the unit of work.

One rule for enums: an enum-typed argument takes the member or its exact value string
(`CreditMethod.FULL` or `"full"`, `TaskStage.PLANNED` or `"planned"`); anything else
— a name, another case, a member of another enum, a number — is refused with the allowed
values (`an_enum()`).

Record fields are checked by the validators of `aftersales.models._fields`; the checks
here reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from aftersales.errors import InvalidInput
from aftersales.models import Actor, InvoiceLine
from aftersales.models._fields import (
    MAX_TEXT,
    allowed_values,
    check_aware,
    check_date,
    check_id,
    check_member,
    check_text,
)
from aftersales.models.loyalty import check_coupon_code
from aftersales.models.mail import check_email_address
from aftersales.models.money import to_decimal

__all__ = [
    "Cleaner",
    "a_choice",
    "a_coupon_code",
    "a_day",
    "a_duration",
    "a_flag",
    "a_moment",
    "a_quantity",
    "a_record",
    "a_text",
    "addresses",
    "an_actor",
    "an_enum",
    "an_id",
    "enums",
    "fields",
    "invoice_lines",
    "items",
    "notes",
    "optional",
    "quantity_map",
]

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

#: A check of one argument: its value and its name in, the cleaned value out.
Cleaner = Callable[[Any, str], Any]


def optional(check: Callable[[Any, str], T]) -> Callable[[Any, str], T | None]:
    """`check`, letting `None` through.

    Examples:
        >>> optional(an_id)(None, "sale_order_id") is None
        True
    """

    def check_optional(value: object, field: str) -> T | None:
        return None if value is None else check(value, field)

    return check_optional


def _a(kind: type[Any]) -> str:
    name = kind.__name__
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


# -- one value ---------------------------------------------------------------------------------


# The checks of one value that records use too, under the names the services use.

#: An identifier (see `check_id()`).
an_id = check_id
#: The member of an enum given, or the one whose exact value is given
#: (see `check_member()`)::
#:
#:     an_enum("full", CreditMethod, "method") is CreditMethod.FULL
an_enum = check_member
#: A calendar date; a datetime is refused.
a_day = check_date
#: A timezone-aware datetime (G-6).
a_moment = check_aware
#: Text a person reads (see `check_text()`).
a_text = check_text


def notes(value: object, field: str) -> str:
    """Free text of several lines, possibly empty (a description, notes)."""
    return check_text(value, field, max_length=MAX_TEXT, multiline=True, required=False)


def a_quantity(value: object, field: str, *, zero: bool = False) -> Decimal:
    """A quantity: a Decimal or an int (never a float, a bool or a string), finite, in range,
    greater than zero (or, with `zero`, not negative). It is rounded to the product's unit
    of measure once the product is known (RT-6, RP-5)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidInput(field, value, "expected a Decimal quantity")
    number = to_decimal(value, field)  # finite and in range, a huge int never converted
    if zero and number < 0:
        raise InvalidInput(field, value, "must not be negative")
    if not zero and number <= 0:
        raise InvalidInput(field, value, "must be greater than zero")
    return number


def a_coupon_code(value: object, field: str) -> str:
    """A coupon code as a person types it: text, surrounding spaces dropped, then a valid
    code (see `check_coupon_code()`)."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "expected a coupon code")
    return check_coupon_code(value.strip(), field)


def a_flag(value: object, field: str) -> bool:
    """`True` or `False` (not 1, not `"yes"`)."""
    if not isinstance(value, bool):
        raise InvalidInput(field, value, "expected True or False")
    return value


def a_duration(value: object, field: str) -> timedelta:
    """A `timedelta` of 0 or more."""
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidInput(field, value, "expected a timedelta of 0 or more")
    return value


def a_choice(value: object, choices: Mapping[str, T], field: str) -> T:
    """What `choices` holds under the name `value` (a quotation format, a renderer…);
    an unknown name is refused with the names known."""
    if isinstance(value, str) and value in choices:
        return choices[value]
    raise InvalidInput(field, value, f"must be one of: {', '.join(sorted(choices))}")


def a_record(value: object, kind: type[T], field: str) -> T:
    """An instance of the record type `kind` (an `Order`…)."""
    if not isinstance(value, kind):
        raise InvalidInput(field, value, f"expected {_a(kind)}")
    return value


def an_actor(value: object) -> Actor:
    """The `actor` of a call: an [`Actor`][aftersales.models.access.Actor], never a default."""
    if not isinstance(value, Actor):
        raise InvalidInput("actor", value, "every call needs an explicit Actor")
    return value


# -- several values ----------------------------------------------------------------------------


def items(value: object, field: str, *kinds: type[Any]) -> tuple[Any, ...]:
    """A list or tuple (any iterable but a string), each item of one of `kinds` (when
    given); `field[i]` names a wrong item."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "expected a list or tuple")
    found = tuple(value)
    if kinds:
        expected = " or ".join(map(_a, kinds))
        for index, item in enumerate(found):
            if not isinstance(item, kinds):
                raise InvalidInput(f"{field}[{index}]", item, f"expected {expected}")
    return found


def enums(value: object, kind: type[E], field: str) -> frozenset[E]:
    """A set (list, tuple…) of `kind`: each item the member or its exact value (see
    `an_enum()`). A bare string is refused: it is one value, not a set."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(
            field, value, f"expected a set of {kind.__name__} values ({allowed_values(kind)})"
        )
    return frozenset(an_enum(item, kind, field) for item in value)


def addresses(value: object, field: str, *, most: int) -> tuple[str, ...]:
    """A list of at most `most` email addresses, each checked (no header injection)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "expected a list of email addresses")
    found = list(value)
    if len(found) > most:
        raise InvalidInput(field, len(found), f"at most {most} addresses")
    return tuple(check_email_address(item, field) for item in found)


def quantity_map(value: object, field: str) -> dict[str, Decimal]:
    """A mapping of ids to quantities of 0 or more (`field[id]` names a wrong one)."""
    if not isinstance(value, Mapping):
        raise InvalidInput(field, value, "expected a mapping of move ids to Decimal quantities")
    found: dict[str, Decimal] = {}
    for key, number in value.items():
        if not isinstance(key, str):
            raise InvalidInput(field, key, "keys must be move ids")
        found[key] = a_quantity(number, f"{field}[{key}]", zero=True)
    return found


def invoice_lines(value: object, field: str) -> tuple[InvoiceLine, ...]:
    """The lines of a credit note (RF-7): at least one, each a positive amount."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInput(field, value, "expected a list or tuple of InvoiceLine records")
    lines = items(value, field, InvoiceLine)
    if not lines:
        raise InvalidInput(field, value, "a credit note needs at least one line")
    for index, line in enumerate(lines):
        where = f"{field}[{index}]"
        if line.quantity <= 0:
            raise InvalidInput(
                f"{where}.quantity", line.quantity, "must be greater than zero (lines are credits)"
            )
        if line.unit_price.amount <= 0:
            raise InvalidInput(f"{where}.unit_price", line.unit_price, "must be greater than zero")
        if line.amounts.total.amount <= 0:
            raise InvalidInput(where, line, "amounts to zero once rounded to the currency")
    return lines


def fields(
    values: Mapping[str, object],
    cleaners: Mapping[str, Cleaner],
    *,
    required: Iterable[str] = (),
) -> dict[str, Any]:
    """Each of `values` checked by its cleaner in `cleaners` (the fields a call takes,
    e.g. a repair order's); a field of `required` may not be `None`."""
    must = frozenset(required)
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name in must and value is None:
            raise InvalidInput(name, value, "is required and cannot be cleared")
        cleaned[name] = cleaners[name](value, name)
    return cleaned
