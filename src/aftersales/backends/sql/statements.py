"""Statements built and compiled once, run on the driver's own cursor.

Building a SQLAlchemy statement, computing its cache key and going through
`Connection.execute` costs far more than the database's own work for the small
statements the hooks send (about 100 µs a statement on a slow machine, where the driver
takes 20–40 µs). So every statement the backend sends is described once, as a SQLAlchemy
construct with `sqlalchemy.bindparam()` parameters, compiled once for the database's
dialect (`Prepared`), and then run with a dict of parameters on the DBAPI cursor of
the unit of work's connection:

* parameters go through the same bind processors SQLAlchemy would apply (exact decimals,
  ISO 8601 times, JSON text, SQLite dates and booleans), and result columns through the
  same result processors, so what is stored and read back is exactly what
  `Connection.execute` would have stored and read;
* a driver error is wrapped as SQLAlchemy wraps it (`DBAPIError.instance`), the
  connection invalidated when the driver says it is gone, and the caller's
  `translated()` turns it into a library error as before;
* transactions, savepoints, the connection pool and migrations stay with SQLAlchemy.

`Statements` keeps the prepared statements of one database, keyed by what they do;
a statement with a variable number of values in an `IN` list is prepared once per
power of two (the list padded by repeating its last value, which changes nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = [
    "MAX_IN",
    "TRACE",
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
#: Sees every statement run through `Prepared`: SQL text, the driver's parameters
#: (a list of them for `executemany`) and whether it is an `executemany`.
Tracer = Callable[[str, Any, bool], None]

_Processor = Callable[[Any], Any] | None
T = TypeVar("T")
R = TypeVar("R")


class Prepared:
    """One statement compiled for one dialect, with its parameter and result plans."""

    __slots__ = ("_binds", "_dialect", "_fixed", "_positional", "_results", "_selected", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        self.sql: str = compiled.string
        self._dialect = dialect
        self._positional = bool(compiled.positional)
        escaped = compiled.escaped_bind_names
        binds = compiled.binds
        names: Sequence[str] = list(compiled.positiontup or ()) if self._positional else list(binds)
        plan: list[tuple[str, str, _Processor]] = []
        for name in names:
            bind = binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            plan.append((name, escaped.get(name, name), processor))
        self._binds = tuple(plan)
        #: parameters with a value of their own (literals in the statement)
        self._fixed = {
            name: bind.effective_value for name, bind in binds.items() if not bind.required
        }
        selected = getattr(statement, "selected_columns", None)
        returning = getattr(statement, "_returning", ())
        columns = list(selected) if selected is not None else list(returning)
        self._selected: tuple[tuple[str, Any], ...] = tuple(
            (column.name, column.type) for column in columns
        )
        self._results: tuple[tuple[str, _Processor], ...] | None = None

    # -- parameters ------------------------------------------------------------------------

    def bind(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters for `params` (a tuple, or a dict for named styles)."""
        if self._fixed:
            params = {**self._fixed, **params}
        if self._positional:
            return tuple(
                [
                    params[name] if processor is None else processor(params[name])
                    for name, _key, processor in self._binds
                ]
            )
        return {
            key: params[name] if processor is None else processor(params[name])
            for name, key, processor in self._binds
        }

    # -- running ---------------------------------------------------------------------------

    def _plan(self, description: Sequence[Any]) -> tuple[tuple[str, _Processor], ...]:
        dialect = self._dialect
        plan = []
        for (name, type_), column in zip(self._selected, description, strict=True):
            impl = type_.dialect_impl(dialect)
            plan.append((name, impl.result_processor(dialect, column[1])))
        self._results = tuple(plan)
        return self._results

    def _bound(self, params: Mapping[str, Any]) -> Any:
        try:
            return self.bind(params)
        except Exception as exc:  # a value its column's type cannot take, a missing name
            raise sa_exc.StatementError(
                f"cannot bind the parameters ({exc})", self.sql, params, exc
            ) from exc

    def _run(self, conn: Connection, params: Mapping[str, Any], fetch: bool) -> Any:
        bound = self._bound(params)
        trace = conn.info.get(TRACE)
        if trace is not None:
            trace(self.sql, bound, False)

        def execute(cursor: Any) -> Any:
            cursor.execute(self.sql, bound)
            if not fetch:
                return cursor.rowcount
            return cursor.fetchall(), self._results or self._plan(cursor.description)

        found = _on_cursor(conn, self.sql, bound, execute)
        if not fetch:
            return found
        rows, plan = found
        try:
            return [
                {
                    name: value if processor is None else processor(value)
                    for (name, processor), value in zip(plan, row, strict=True)
                }
                for row in rows
            ]
        except Exception as exc:  # a stored value its column's type cannot read
            raise sa_exc.StatementError(
                f"cannot read a row back ({exc})", self.sql, params, exc
            ) from exc

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row the statement returns."""
        found: list[Row] = self._run(conn, params or {}, True)
        return found

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Row | None:
        """The first row, or `None`."""
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the one row the statement returns."""
        found = self.rows(conn, params)
        if len(found) != 1:
            raise sa_exc.NoResultFound(f"expected one row, got {len(found)}: {self.sql}")
        return next(iter(found[0].values()))

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        count: int = self._run(conn, params or {}, False)
        return count

    def run_many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter dict, in one `executemany`."""
        if not params:
            return
        bound = [self._bound(p) for p in params]
        trace = conn.info.get(TRACE)
        if trace is not None:
            trace(self.sql, bound, True)
        _on_cursor(conn, self.sql, bound, lambda cursor: cursor.executemany(self.sql, bound))


#: Key in `Connection.info` of a `Tracer` (see `engine.Database.trace()`).
TRACE = "aftersales.trace"


def _raise(conn: Connection, sql: str, params: Any, exc: Exception, cursor: Any) -> NoReturn:
    """Re-raise a driver error as SQLAlchemy would (a `DBAPIError` subclass, the
    connection invalidated when the driver says it is gone); anything else raised while
    the driver ran the statement becomes a `StatementError`."""
    dialect = conn.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    if not isinstance(exc, dbapi_error):
        raise sa_exc.StatementError(str(exc), sql, params, exc) from exc
    invalidated = bool(dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor))
    wrapped = sa_exc.DBAPIError.instance(
        sql,
        params,
        exc,
        dbapi_error,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
    if invalidated:
        conn.invalidate(wrapped)
    raise wrapped from exc


def run_text(conn: Connection, sql: str) -> None:
    """Run a statement without parameters or rows (`BEGIN IMMEDIATE`) on the driver's
    cursor, errors wrapped as for a `Prepared` statement."""
    trace = conn.info.get(TRACE)
    if trace is not None:
        trace(sql, (), False)
    _on_cursor(conn, sql, (), lambda cursor: cursor.execute(sql))


def _on_cursor(conn: Connection, sql: str, params: Any, work: Callable[[Any], R]) -> R:
    """`work(cursor)` on a new cursor of `conn`'s driver connection, closed after.

    A driver error is raised as SQLAlchemy raises it (`_raise()`); an interruption
    in the middle (`KeyboardInterrupt`, a cancelled task) invalidates the connection, as
    SQLAlchemy does, since what the database has done with the statement is unknown.
    """
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return work(cursor)
    except Exception as exc:
        _raise(conn, sql, params, exc, cursor)
    except BaseException:
        conn.invalidate()
        raise
    finally:
        with contextlib.suppress(Exception):  # a cursor of an invalidated connection
            cursor.close()


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
    """The prepared statements of one database, built on first use and kept."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._prepared: dict[Hashable, Prepared] = {}

    def get(self, key: Hashable, build: Callable[[], ClauseElement]) -> Prepared:
        """The statement `key`; `build` describes it the first time."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = Prepared(build(), self.dialect)
        return found

    def __len__(self) -> int:
        return len(self._prepared)
