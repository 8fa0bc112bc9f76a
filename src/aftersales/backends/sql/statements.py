"""Statements described once, run through SQLAlchemy's own execution.

Every statement the backend sends is described once, as a SQLAlchemy construct with
`sqlalchemy.bindparam()` parameters, and kept (`Statements`, keyed by what it does).
It is run with `Connection.execute(statement, params)`: SQLAlchemy applies its bind and
result processors (exact decimals, ISO 8601 times, JSON text, SQLite dates and booleans),
wraps a driver error (a `DBAPIError` subclass, the connection invalidated when the
driver says it is gone or the statement was interrupted) and keeps the compiled form in
the engine's compiled cache, so a statement is compiled once per dialect and the kept
construct only has its cache key computed per call. A list of parameter dicts runs as
one `executemany` (SQLAlchemy's `insertmanyvalues` where the dialect uses it).

The speed comes from sending fewer statements (see the backend), not from going around
SQLAlchemy. `Prepared` is what the backend and the ledgers hold: `rows()`, `first()`,
`scalar()`, `run()` and `run_many()` on the unit of work's connection. A statement that
writes a table (`INSERT`, `UPDATE`, `DELETE`) tells the backend before it runs
(`Statements`' `forget`), so that the unit of work forgets what it read of that table.
A statement with a variable number of values in an `IN` list is described once per power
of two (the list padded by repeating its last value, which changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.expression import ClauseElement, Executable

__all__ = [
    "MAX_IN",
    "Forget",
    "Prepared",
    "Row",
    "Statements",
    "Tracer",
    "chunked",
    "in_list",
    "padded",
    "run_text",
]

#: A row read back: column name → value, already converted (Decimal, datetime, …).
Row = dict[str, Any]
#: Sees every statement sent to the driver (`engine.Database.tracer`): SQL text, the
#: driver's parameters (a list of them for `executemany`) and whether it is an
#: `executemany`.
Tracer = Callable[[str, Any, bool], None]
#: Told the name of the table a statement is about to write.
Forget = Callable[[str], None]

T = TypeVar("T")

_NO_PARAMS: Mapping[str, Any] = {}


class Prepared:
    """One statement of the backend, run through `Connection.execute`.

    Args:
        statement: An executable SQLAlchemy construct (a `select()`, `insert()`, …)
            whose parameters are `sqlalchemy.bindparam()`s.
        dialect: The database's dialect (kept for callers; SQLAlchemy compiles for the
            connection's own dialect, once, in the engine's compiled cache).
        forget: Called with the table's name before each run of a statement writing
            one.
    """

    __slots__ = ("_dialect", "_writes", "statement")

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, forget: Forget | None = None
    ) -> None:
        if not isinstance(statement, Executable):
            raise TypeError(f"not a SQL statement: {statement!r}")
        # The rows an INSERT changed are read back for every statement (SQLAlchemy keeps
        # the count of an UPDATE or DELETE only, unless asked): `run()` tells a key taken
        # by `INSERT … ON CONFLICT DO NOTHING` by a count of 0.
        self.statement: Any = statement.execution_options(preserve_rowcount=True)
        self._dialect = dialect
        table = getattr(statement, "table", None)  # what an INSERT, UPDATE or DELETE writes
        self._writes: tuple[Forget, str] | None = (
            (forget, table.name) if forget is not None and isinstance(table, sa.Table) else None
        )

    def _execute(self, conn: Connection, params: Any) -> CursorResult[Any]:
        if self._writes is not None:
            forget, table = self._writes
            forget(table)
        return conn.execute(self.statement, params)

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row the statement returns."""
        result = self._execute(conn, params or _NO_PARAMS)
        keys = tuple(result.keys())
        return [dict(zip(keys, row, strict=True)) for row in result]

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Row | None:
        """The first row, or `None`."""
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the one row the statement returns."""
        found = self._execute(conn, params or _NO_PARAMS).all()
        if len(found) != 1:
            raise sa_exc.NoResultFound(f"expected one row, got {len(found)}: {self.statement}")
        return found[0][0]

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        count: int = self._execute(conn, params or _NO_PARAMS).rowcount
        return count

    def run_many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter dict, in one `executemany`."""
        if params:
            self._execute(conn, list(params))


def run_text(conn: Connection, sql: str) -> None:
    """Run a statement without parameters or rows (`BEGIN IMMEDIATE`) as the driver's
    own SQL (`Connection.exec_driver_sql`), errors wrapped as for any statement."""
    conn.exec_driver_sql(sql)


#: The most values one `IN` list takes (a power of two): longer lists are looked up in
#: chunks of this size (`chunked()`). PostgreSQL takes at most 65,535 parameters in a
#: statement, and SQLite is often built for 32,766.
MAX_IN = 4096


def chunked(values: Sequence[T]) -> list[Sequence[T]]:
    """`values` in pieces of at most `MAX_IN`, in order (none when empty)."""
    return [values[start : start + MAX_IN] for start in range(0, len(values), MAX_IN)]


def padded(values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """`values` (1 to `MAX_IN` of them) for an `IN` list of `in_list()`: the
    list's size (the next power of two) and its parameters `v0 … vN`, the last value
    repeated to fill it."""
    if not 0 < len(values) <= MAX_IN:
        raise ValueError(f"an IN list takes 1 to {MAX_IN} values, not {len(values)}")
    size = 1
    while size < len(values):
        size *= 2
    params = {f"v{i}": values[min(i, len(values) - 1)] for i in range(size)}
    return size, params


def in_list(column: sa.ColumnElement[Any], size: int) -> sa.ColumnElement[bool]:
    """`column IN (:v0, …)` with `size` parameters (see `padded()`)."""
    return column.in_([sa.bindparam(f"v{i}") for i in range(size)])


class Statements:
    """The statements of one database, described on first use and kept (`forget`: see
    `Prepared`)."""

    def __init__(self, dialect: Dialect, forget: Forget | None = None) -> None:
        self.dialect = dialect
        self._forget = forget
        self._prepared: dict[Hashable, Prepared] = {}

    def get(self, key: Hashable, build: Callable[[], ClauseElement]) -> Prepared:
        """The statement `key`; `build` describes it the first time."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = Prepared(build(), self.dialect, self._forget)
        return found

    def __len__(self) -> int:
        return len(self._prepared)
