"""Values written for people, as error messages show them.

[`show`][aftersales.formatting.show] is the one formatter of the library's messages. It is
plain and neutral (no locale: a web page formats amounts for its reader itself) and never
shows a Python `repr`:

* `Decimal("-1")`, `Decimal("12.50")`: `-1`, `12.50`;
* `date(2020, 1, 1)`: `2020-01-01`; a datetime in ISO 8601 (`2020-01-01T09:30:00+00:00`);
* Money: `120.88 EUR`, `1,234.50 EUR` (thousands grouped, as on the ticket's trail);
  a `Quantity`: `3 Units`;
* a string of printable characters without spaces, quotes or backslashes as it is
  (`INV/2026/1`); any other string (empty, with spaces, quotes or control characters) in
  double quotes, escaped as in JSON: `""`, `"Internal IT"`, `"t\\u0000"`;
* an enum member: its value (`partial`);
* a list, tuple, set or mapping: its items joined by `, ` (a set sorted):
  `full, partial`; an empty one: `(none)`;
* a record with an id: its kind and id (`Ticket ticket-1`);
* anything else: its type, `(a float: 1.5)`, `(an object)`.

A huge value is never turned into text whole: a string longer than 80 characters is cut
(`"xxx…" (1,000,000 characters)`), an int of more than about 77 digits is shown by its first
digits and its length, a Decimal with a huge exponent in scientific notation, and a list
by its first items.

Examples:
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> show(Decimal("-1")), show(date(2020, 1, 1)), show("two words"), show("")
    ('-1', '2020-01-01', '"two words"', '""')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum

__all__ = ["label", "show"]

_SHOWN = 80
_ITEMS = 10


def label(key: str) -> str:
    """The label a page shows for a state or kind key: `under_repair` → `Under repair`.

    Examples:
        >>> label("credit_note"), label("posted")
        ('Credit note', 'Posted')
    """
    return key.replace("_", " ").capitalize()


def show(value: object) -> str:
    """`value` written for a person, at most about 80 characters.

    Args:
        value: Anything: a number, a date, Money, a string, a collection, a record.

    Returns:
        The text a message shows for `value` (see the table in
        [`aftersales.formatting`][aftersales.formatting]).
    """
    text = _show(value, depth=0)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _show(value: object, depth: int) -> str:
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, Enum):
        return _show(value.value, depth)
    if type(value) is int or isinstance(value, int):
        return _huge_int(int(value)) if int(value).bit_length() > 256 else str(int(value))
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, float):
        return f"(a float: {value!s})"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    from aftersales.models.money import Money  # models import this module's users

    if isinstance(value, Money):
        return str(value)  # 1,234.50 EUR: grouped, as on the trail
    from aftersales.models.products import Quantity

    if isinstance(value, Quantity):
        return f"{_decimal(value.quantity)} {value.uom}"
    if depth > 1:
        return "…"
    if isinstance(value, Mapping):
        pairs = [
            f"{_show(k, depth + 1)}: {_show(v, depth + 1)}" for k, v in list(value.items())[:_ITEMS]
        ]
        return _joined(pairs, len(value))
    if isinstance(value, list | tuple):
        return _joined([_show(item, depth + 1) for item in value[:_ITEMS]], len(value))
    if isinstance(value, set | frozenset):
        items = sorted(_show(item, depth + 1) for item in list(value)[:100])
        return _joined(items[:_ITEMS], len(value))
    ident = getattr(value, "id", None)
    if isinstance(ident, str):
        return f"{type(value).__name__} {_text(ident)}"
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"({article} {name})"


def _joined(items: list[str], total: int) -> str:
    if not items:
        return "(none)"
    more = f", … ({total:,} items)" if total > len(items) else ""
    return ", ".join(items) + more


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    if len(value.as_tuple().digits) > 40:
        return f"{value:.6E}"
    if abs(value.adjusted()) > 30:
        return str(value)
    return f"{value:f}"


def _text(value: str) -> str:
    if len(value) > _SHOWN:
        return f'{_quoted(value[:60])[:-1]}…" ({len(value):,} characters)'
    if value and value.isprintable() and not any(c in value for c in " \"'\\"):
        return value
    return _quoted(value)


def _quoted(value: str) -> str:
    """`value` in double quotes, escaped as in JSON, other unprintable characters too."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _huge_int(value: int) -> str:
    """`100000… (an int of about 5,001 digits)` for `10**5000`, from its logarithm."""
    magnitude = math.log10(abs(value))
    digits = int(magnitude) + 1
    first = int(10 ** (magnitude - int(magnitude) + 5))  # the first six digits
    sign = "-" if value < 0 else ""
    return f"{sign}{first}… (an int of about {digits:,} digits)"
