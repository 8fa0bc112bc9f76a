"""Column types that keep values exact on every database.

* `Exact` — a `Decimal`, stored as `NUMERIC` on PostgreSQL (which
  keeps the scale) and as text on SQLite (which has no decimal type), so `Decimal("9.50")`
  reads back as `Decimal("9.50")`, never as a float.
* `Moment` — a timezone-aware `datetime`, stored as ISO 8601 text
  with its offset, so a record reads back exactly as it was written. Naive datetimes are
  refused. Ordering by time is done in Python (the lookups that sort return few rows).
* `JsonText` — JSON text, for value lists such as taxes, rewards or repair parts.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from aftersales.errors import BackendError
from aftersales.formatting import show

__all__ = ["Exact", "JsonText", "Moment"]


class Exact(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on PostgreSQL, text elsewhere."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC(asdecimal=True))
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise BackendError(f"cannot store {show(value)} as an exact decimal")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class Moment(TypeDecorator[datetime]):
    """A timezone-aware datetime as ISO 8601 text with its UTC offset."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise BackendError(f"cannot store {show(value)}: datetimes must be timezone-aware")
        return value.isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class JsonText(TypeDecorator[Any]):
    """JSON text (keys sorted), for plain data made by `aftersales.serialization`."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
