"""Engines, connections and transactions: one unit of work = one database transaction.

`Database` opens the engine for a URL (SQLite file by default, PostgreSQL through
psycopg 3), keeps the connection of the current unit of work in a thread-local, and runs
every statement with driver errors translated (`errors`).

* **SQLite**: WAL journal, a busy timeout, foreign keys on; a writing unit starts with
  `BEGIN IMMEDIATE` so concurrent writers — threads or processes — queue for the write
  lock instead of failing half-way; a reading unit starts with a plain `BEGIN`.
* **PostgreSQL**: `READ COMMITTED` with row locks (`SELECT … FOR UPDATE`) on the lookups
  called with `lock=True`, and a `lock_timeout` so a stuck lock ends in a retryable
  error rather than a hang; a reading unit runs `REPEATABLE READ`, so all its
  statements see one snapshot (never half of a unit that commits meanwhile).

A unit of work begun while another is open on the same thread becomes a savepoint of it.
A unit keeps what it read (`SqlTransaction.records`) and what child rows it wrote
(`SqlTransaction.written`) until it ends; any rollback, of a savepoint too, forgets both.
Hooks called outside any unit of work (the test-data builder, scripts) run in a short
transaction of their own that commits at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from aftersales.errors import ConfigurationError, DuplicateKey

from .errors import is_unique_violation, translate, translated
from .statements import Tracer, run_text

__all__ = ["DEFAULT_URL", "Database", "SqlTransaction", "normalize_url"]

#: Used when no URL is given and `AFTERSALES_DATABASE_URL` is not set.
DEFAULT_URL = "aftersales.db"

_WRITES = "aftersales.writes"


def normalize_url(url: str | Path | URL | None) -> URL:
    """A SQLAlchemy URL from a URL, a file path, or `None` (the environment, then the
    default file). `postgresql://` and `postgres://` use psycopg 3."""
    if url is None:
        url = os.environ.get("AFTERSALES_DATABASE_URL") or DEFAULT_URL
    if isinstance(url, Path) or (isinstance(url, str) and "://" not in url):
        return URL.create("sqlite", database=str(Path(url).expanduser().resolve()))
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {url!r} ({exc})") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise ConfigurationError(
                f"unsupported PostgreSQL driver {driver!r}: use postgresql:// (psycopg 3)"
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite" or driver not in ("", "pysqlite"):
        raise ConfigurationError(
            f"unsupported database {backend!r}: use a SQLite file path or a postgresql:// URL"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "an in-memory SQLite database is not shared between connections; give a file "
            "path (e.g. 'aftersales.db') or use the memory backend"
        )
    return parsed


class SqlTransaction:
    """The database side of one unit of work (or a savepoint of an enclosing one)."""

    def __init__(
        self,
        database: Database,
        connection: Connection,
        transaction: sa.RootTransaction | sa.NestedTransaction,
        written: dict[Hashable, Any] | None = None,
        records: dict[str, dict[Hashable, Any]] | None = None,
    ) -> None:
        self.database = database
        self.connection = connection
        self._tx = transaction
        self._nested = isinstance(transaction, sa.NestedTransaction)
        self._open = True
        #: What this transaction (with its savepoints) wrote, for the backend to skip
        #: writing the same again: shared with the savepoints, emptied by any rollback.
        self.written: dict[Hashable, Any] = {} if written is None else written
        #: The records this transaction (with its savepoints) read, by table and key, for
        #: the backend to read each once (see `SqlBackend._remembered()`): shared with the
        #: savepoints, a table's forgotten on any write to it, all of them on any rollback.
        self.records: dict[str, dict[Hashable, Any]] = {} if records is None else records

    def commit(self) -> None:
        if not self._open:
            return
        try:
            with translated():
                self._tx.commit()
        except BaseException:
            self.rollback()
            raise
        self._end()

    def rollback(self) -> None:
        if not self._open:
            return
        self.written.clear()
        self.records.clear()
        try:
            with translated():
                if self._tx.is_active:
                    self._tx.rollback()
        finally:
            self._end()

    def _end(self) -> None:
        self._open = False
        self.database._pop(self)
        if not self._nested:
            with contextlib.suppress(sa_exc.SQLAlchemyError):  # a dead one: the pool drops it
                self.connection.close()


class _InUnit:
    """The open unit's connection for a `with` block, errors translated as by
    `errors.translated()` (a class: every hook call of a unit takes one)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def __enter__(self) -> Connection:
        return self._connection

    def __exit__(
        self,
        _type: type[BaseException] | None,
        exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sa_exc.SQLAlchemyError):
            raise translate(exc) from exc


class _Local(threading.local):
    def __init__(self) -> None:
        self.stack: list[SqlTransaction] = []


def _write_ahead_log(cursor: Any, timeout: float) -> None:
    """Put the SQLite database in WAL mode (a setting kept in the file), unless it is.

    Switching a new database's journal needs it alone, and SQLite answers "database is
    locked" at once, without its busy timeout, when another connection is opening it too (a
    second process migrating a new file): the switch is tried again until `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class Database:
    """An engine plus the thread-local transaction of the current unit of work."""

    def __init__(
        self,
        url: str | Path | URL | None = None,
        *,
        busy_timeout: float = 30.0,
        lock_timeout: float = 10.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        options = dict(engine_options or {})
        if self.dialect == "sqlite":
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            options.setdefault(
                "connect_args", {"timeout": busy_timeout, "check_same_thread": False}
            )
        else:
            options.setdefault(
                "connect_args", {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"}
            )
            options.setdefault("pool_pre_ping", True)
        try:
            self.engine: Engine = sa.create_engine(self.url, **options)
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            raise ConfigurationError(f"cannot open {self.safe_url}: {exc}") from exc
        if self.dialect == "sqlite":
            self._sqlite_events(busy_timeout)
        self._local = _Local()
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer | None:
        """Sees every statement sent to the driver (SQL text, the driver's parameters and
        whether it is an `executemany`); `None` (the default) for none.

        Set, it listens to SQLAlchemy's `before_cursor_execute` event of the engine (no
        listener at all while it is `None`).
        """
        return self._tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        listening = self._tracer is not None
        self._tracer = tracer
        if tracer is not None and not listening:
            event.listen(self.engine, "before_cursor_execute", self._trace)
        elif tracer is None and listening:
            event.remove(self.engine, "before_cursor_execute", self._trace)

    def _trace(
        self,
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        tracer = self._tracer
        if tracer is not None:
            tracer(statement, parameters, executemany)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def _sqlite_events(self, busy_timeout: float) -> None:
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let us issue BEGIN ourselves (pysqlite's own handling breaks savepoints and
            # cannot say IMMEDIATE).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                _write_ahead_log(cursor, busy_timeout)
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.info.get(_WRITES, True) else "DEFERRED"
            run_text(conn, f"BEGIN {mode}")

    # -- transactions ----------------------------------------------------------------------

    @property
    def current(self) -> SqlTransaction | None:
        """The innermost open transaction of this thread, if any."""
        stack = self._local.stack
        return stack[-1] if stack else None

    def begin(self, *, writes: bool) -> SqlTransaction:
        """Start a unit of work's transaction on this thread (a savepoint when nested)."""
        outer = self.current
        with translated():
            if outer is not None:
                tx = SqlTransaction(
                    self,
                    outer.connection,
                    outer.connection.begin_nested(),
                    outer.written,
                    outer.records,
                )
            else:
                conn = self._connect(writes)
                try:
                    tx = SqlTransaction(self, conn, conn.begin())
                except BaseException:
                    conn.close()
                    raise
        self._local.stack.append(tx)
        return tx

    def _connect(self, writes: bool) -> Connection:
        conn = self.engine.connect()
        if not writes and self.dialect == "postgresql":
            # One snapshot for the whole reading unit (SQLite's reading BEGIN has one).
            conn.execution_options(isolation_level="REPEATABLE READ")
        conn.info[_WRITES] = writes
        return conn

    def written(self) -> dict[Hashable, Any] | None:
        """What the open transaction of this thread wrote (see `SqlTransaction.written`),
        or `None` outside any."""
        current = self.current
        return None if current is None else current.written

    def records(self) -> dict[str, dict[Hashable, Any]] | None:
        """What the open transaction of this thread read (see `SqlTransaction.records`),
        or `None` outside any."""
        current = self.current
        return None if current is None else current.records

    def _pop(self, tx: SqlTransaction) -> None:
        stack = self._local.stack
        if tx in stack:
            del stack[stack.index(tx) :]

    def connection(self, *, writes: bool = True) -> AbstractContextManager[Connection]:
        """The current unit's connection, or a short transaction of its own that commits
        when the block ends (and is the current one inside it)."""
        current = self.current
        if current is not None:
            return _InUnit(current.connection)
        return self._own_transaction(writes)

    @contextmanager
    def _own_transaction(self, writes: bool) -> Iterator[Connection]:
        tx = self.begin(writes=writes)
        try:
            with translated():
                yield tx.connection
        except BaseException:
            tx.rollback()
            raise
        tx.commit()

    # -- statements ------------------------------------------------------------------------

    @staticmethod
    def unique(conn: Connection, run: Callable[[], object], what: str, value: object) -> None:
        """`run()` (statements on `conn`) in a savepoint; a unique violation raises
        [`DuplicateKey`][aftersales.errors.DuplicateKey] naming `what` and `value` and leaves the
        transaction usable. (A plain insert needs no savepoint: `INSERT … ON CONFLICT DO NOTHING`
        tells a taken key by changing no row.)"""
        try:
            with conn.begin_nested():
                run()
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise DuplicateKey(what, value) from exc
            raise translate(exc) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
