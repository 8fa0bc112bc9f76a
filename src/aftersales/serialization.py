"""One configured cattrs converter: every public record round-trips through JSON.

Examples:
    >>> import json
    >>> from decimal import Decimal
    >>> from aftersales.models import Money
    >>> data = converter.unstructure(Money(amount=Decimal("9.5"), currency="EUR"))
    >>> data
    {'amount': '9.50', 'currency': 'EUR'}
    >>> converter.structure(json.loads(json.dumps(data)), Money)
    Money(amount=Decimal('9.50'), currency='EUR')
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import cattrs

__all__ = ["converter", "dumps", "loads"]

T = TypeVar("T")


def _make() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=False)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda value, _t: Decimal(str(value)))
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, lambda value, _t: datetime.fromisoformat(value))
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, lambda value, _t: date.fromisoformat(value))
    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is frozenset,
        lambda value: sorted(conv.unstructure(item) for item in value),
    )
    return conv


#: The library's converter. Use it to turn any record into JSON-ready data and back.
converter: cattrs.Converter = _make()


def dumps(record: object) -> str:
    """JSON text of `record` (keys sorted, so equal records give equal text)."""
    return json.dumps(converter.unstructure(record), sort_keys=True, separators=(",", ":"))


def loads(text: str | bytes, kind: type[T]) -> T:
    """The record of type `kind` encoded in `text` by `dumps()`."""
    data: Any = json.loads(text)
    return converter.structure(data, kind)
