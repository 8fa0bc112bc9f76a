"""Small conversions between proteus' values and the gateway's typed ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from proteus import Model

from aftersales.errors import InvalidInput, NotFound
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated

__all__ = ["a_positive_quantity", "an_id", "decimal", "load", "optional_id", "record_id"]


def decimal(value: Any) -> Decimal:
    """A Tryton numeric (Decimal, or int/float for a Float field) as a Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(str(value))


def record_id(record: Any) -> int:
    """The id of a proteus record (an int)."""
    return int(record.id)


def optional_id(record: Any) -> int | None:
    return None if record is None else int(record.id)


def an_id(field: str, value: object) -> int:
    """A Tryton id: a positive int (bool is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(field, value, "a Tryton id is a positive integer")
    return value


def a_positive_quantity(field: str, value: object) -> Decimal:
    """A quantity > 0 given as Decimal or int (never float)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise InvalidInput(field, value, "a quantity is a Decimal or an int")
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidInput(field, value, "a quantity must be greater than zero")
    return quantity


def a_date(field: str, value: object) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInput(field, value, "a date (datetime.date) is needed")
    return value


def load(config: Config, model: str, record_id: int, kind: str) -> Any:
    """The proteus record ``model`` ``record_id``, or :class:`NotFound` naming ``kind``."""
    an_id(f"{kind} id", record_id)
    with translated(f"read {kind} {record_id}"):
        found = Model.get(model, config=config).find([("id", "=", record_id)], limit=1)
    if not found:
        raise NotFound(kind, record_id)
    return found[0]
