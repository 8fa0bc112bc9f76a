"""The floor of the SQL backend: a refund's own statements run with the bare driver.

What a FULL refund costs on a SQL database can be no less than the statements it sends. The
floor measures exactly those, without the library:

1. the refund cases (one invoice each) are stored, then the database is copied twice
   (SQLite: the driver's backup API; PostgreSQL: ``CREATE DATABASE … TEMPLATE …``);
2. on the first copy, every case runs once through the backend while :class:`Recorder`
   writes down what reaches the driver, in order: each statement's SQL text and the
   parameters as the driver got them (SQLAlchemy's ``before_cursor_execute``: every
   statement, the ``BEGIN IMMEDIATE`` and the savepoints),
   the commit, and on PostgreSQL the connection check (``SELECT 1``) the pool makes when
   a unit of work takes a connection;
3. the timed part alternates, in blocks, the same cases through the public API
   (``refunds.reverse(method=FULL)``) on the original database and the recorded statements
   of each case replayed by :class:`Replayer` with ``sqlite3`` / ``psycopg`` on its own
   connection to the second copy — same framing (``BEGIN IMMEDIATE`` … ``COMMIT`` on
   SQLite, the driver's implicit transaction on PostgreSQL), every row fetched.

The ratio *backend ÷ floor* is taken block by block, like every ratio of the harness. What
it leaves out is only the library: the service's rules, building and checking the records,
mapping rows, the hooks, the connection pool and transaction bookkeeping.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL

from aftersales import CreditMethod

from .flows import World, reattach

__all__ = [
    "Op",
    "Recorder",
    "Replayer",
    "copy_database",
    "floor_worlds",
    "record",
    "refund",
    "statements",
    "summary",
    "supported",
]

#: One thing the backend made the driver do: ``("execute", sql, params)``,
#: ``("executemany", sql, [params, …])``, ``("commit",)`` or ``("rollback",)``.
Op = tuple[Any, ...]


def supported(backend: Any) -> bool:
    """Whether ``backend`` is the SQL backend (the floor needs its database)."""
    return hasattr(backend, "db") and getattr(backend.db, "dialect", None) in (
        "sqlite",
        "postgresql",
    )


class Recorder:
    """Writes down, in order, what the backend makes the driver do (see the module doc)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._engine = backend.db.engine
        self._ping = bool(getattr(self._engine.pool, "_pre_ping", False))
        self.ops: list[Op] = []

    def _cursor(
        self, _conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, many: bool
    ) -> None:
        self.ops.append(("executemany" if many else "execute", sql, params))

    def _checkout(self, *_args: Any) -> None:
        if self._ping:
            self.ops.append(("execute", "SELECT 1", ()))

    def _commit(self, _conn: Any) -> None:
        self.ops.append(("commit",))

    def _rollback(self, _conn: Any) -> None:
        self.ops.append(("rollback",))

    def __enter__(self) -> Recorder:
        event.listen(self._engine, "before_cursor_execute", self._cursor)
        event.listen(self._engine, "commit", self._commit)
        event.listen(self._engine, "rollback", self._rollback)
        event.listen(self._engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._cursor)
        event.remove(self._engine, "commit", self._commit)
        event.remove(self._engine, "rollback", self._rollback)
        event.remove(self._engine.pool, "checkout", self._checkout)

    def take(self) -> tuple[Op, ...]:
        """What was recorded since the last call."""
        taken, self.ops = tuple(self.ops), []
        return taken


def refund(world: World, invoice_id: str) -> object:
    """The measured call: a FULL refund of ``invoice_id`` from the scenario's ticket."""
    return world.app.refunds.reverse(
        world.scenario.ticket.id, invoice_id, method=CreditMethod.FULL, actor=world.agent
    )


def record(world: World, invoice_ids: Sequence[str]) -> list[tuple[Op, ...]]:
    """Each case's operations, from one run of every case through ``world``'s backend."""
    recorded = []
    with Recorder(world.backend) as recorder:
        for invoice_id in invoice_ids:
            recorder.take()
            refund(world, invoice_id)
            recorded.append(recorder.take())
    return recorded


class Replayer:
    """A bare driver connection replaying recorded operations."""

    def __init__(self, url: URL) -> None:
        self.dialect = url.get_backend_name()
        self.connection: Any
        if self.dialect == "sqlite":
            conn = sqlite3.connect(url.database or "", isolation_level=None, timeout=30)
            for pragma in (
                "busy_timeout = 30000",
                "journal_mode = WAL",
                "synchronous = NORMAL",
                "foreign_keys = ON",
            ):
                conn.execute(f"PRAGMA {pragma}")
            self.connection = conn
        else:
            import psycopg

            self.connection = psycopg.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password,
                dbname=url.database,
                options="-c lock_timeout=10000",
            )

    def replay(self, ops: Sequence[Op]) -> None:
        """Run ``ops`` in order (every row of every query fetched)."""
        conn = self.connection
        cursor = conn.cursor()
        try:
            for op in ops:
                kind = op[0]
                if kind == "execute":
                    cursor.execute(op[1], op[2])
                    if cursor.description is not None:
                        cursor.fetchall()
                elif kind == "executemany":
                    cursor.executemany(op[1], op[2])
                elif kind == "commit":
                    conn.commit()
                else:
                    conn.rollback()
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


def statements(ops: Sequence[Op]) -> int:
    """How many SQL statements ``ops`` send (an ``executemany`` counts once)."""
    return sum(1 for op in ops if op[0] in ("execute", "executemany"))


def copy_database(backend: Any, server: Any, folder: Path, name: str) -> URL:
    """A copy of ``backend``'s database as it is now (its pooled connections are closed
    first; they reopen on the next call)."""
    from sqlalchemy.engine import make_url

    url: URL = backend.db.url
    if backend.dialect == "sqlite":
        target = folder / f"{name}.db"
        source = sqlite3.connect(url.database or "")
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        return url.set(database=str(target))
    backend.db.dispose()
    if server is None:
        raise RuntimeError("copying a PostgreSQL database needs the benchmark's server")
    copied: str = server.create_database(template=url.database)
    return make_url(copied).set(drivername="postgresql+psycopg")


@contextmanager
def floor_worlds(world: World, server: Any, folder: Path) -> Iterator[tuple[World, Replayer]]:
    """A world over a copy of ``world``'s database (for recording) and a bare driver
    connection to another copy (for the replay)."""
    from aftersales.backends.sql import SqlBackend

    recording_url = copy_database(world.backend, server, folder, "recording")
    replay_url = copy_database(world.backend, server, folder, "replay")
    recording = SqlBackend(recording_url)
    replayer = Replayer(replay_url)
    try:
        yield reattach(world, recording), replayer
    finally:
        replayer.close()
        recording.close()


def summary(recorded: Sequence[Sequence[Op]]) -> dict[str, Any]:
    """How many statements and commits the recorded cases sent (median per case)."""
    counts = [statements(ops) for ops in recorded]
    commits = [sum(1 for op in ops if op[0] == "commit") for ops in recorded]
    return {
        "statements_per_refund": statistics.median(counts),
        "statements_min_max": [min(counts), max(counts)],
        "commits_per_refund": statistics.median(commits),
        "example": [op[1] if len(op) > 1 else op[0].upper() for op in recorded[-1]],
    }
