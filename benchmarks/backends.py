"""The backends the benchmark runs on: adding one is one entry in :data:`BACKENDS`.

An entry's ``create(session)`` returns a fresh, empty backend (anything with
``builder(clock)`` and the ``aftersales_*`` hooks) and registers its clean-up on the
session; it raises :class:`Unavailable` when the backend cannot run here (extra not
installed, no server), and the run reports it as skipped with the reason.
``reopen(backend)``, when given, returns a backend over the *same* store for a worker
process (new connections after ``fork``); without it the store is process-local and each
worker benchmarks its own copy.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs

__all__ = ["BACKENDS", "BackendEntry", "Session", "Unavailable"]


class Unavailable(Exception):
    """This backend cannot run on this machine; the message says why."""


@attrs.define
class Session:
    """One benchmark run: clean-ups to run at its end and resources shared by entries
    (such as one PostgreSQL server for every database the run creates)."""

    stack: ExitStack = attrs.field(factory=ExitStack)
    shared: dict[str, Any] = attrs.field(factory=dict)

    def close(self) -> None:
        self.stack.close()


@attrs.frozen(kw_only=True)
class BackendEntry:
    """How to get a fresh backend of one kind, and how much to ask of it.

    ``scale`` shrinks the number of timed calls (a backend a hundred times slower does not
    need as many to give a stable median); ``bulk_limit`` is the largest number of records
    per kind the scaling part loads without being asked explicitly (``--sizes``), for a
    backend whose builder stores one record at a time.
    """

    create: Callable[[Session], Any]
    reopen: Callable[[Any], Any] | None = None
    description: str = ""
    scale: float = 1.0
    bulk_limit: int | None = None


def _memory(_session: Session) -> Any:
    from aftersales.backends.memory import MemoryBackend

    return MemoryBackend()


def _sql_module() -> Any:
    try:
        return importlib.import_module("aftersales.backends.sql")
    except ImportError as exc:
        raise Unavailable(f"the SQL backend is not available ({exc})") from exc


def _sqlite(session: Session) -> Any:
    sql = _sql_module()
    folder = session.stack.enter_context(tempfile.TemporaryDirectory(prefix="aftersales-bench-"))
    backend = sql.SqlBackend(Path(folder) / "bench.db")
    session.stack.callback(backend.close)
    return backend


def _postgresql(session: Session) -> Any:
    sql = _sql_module()
    try:
        postgres = importlib.import_module("tests.postgres")
        importlib.import_module("psycopg")
    except ImportError as exc:
        raise Unavailable(f"PostgreSQL support is not available ({exc})") from exc
    server = session.shared.get("postgres")
    if server is None:
        try:
            server = postgres.launch_postgres()
        except postgres.PostgresNotAvailable as exc:
            raise Unavailable(str(exc)) from exc
        session.stack.callback(server.stop)
        session.shared["postgres"] = server
    backend = sql.SqlBackend(server.create_database())
    session.stack.callback(backend.close)
    return backend


def _reopen_sql(backend: Any) -> Any:
    return _sql_module().SqlBackend(backend.db.url)


#: Every backend the benchmark knows, by name (``--backend NAME`` picks some).
BACKENDS: dict[str, BackendEntry] = {
    "memory": BackendEntry(create=_memory, description="dict tables, indexes, undo log"),
    "sqlite": BackendEntry(
        create=_sqlite,
        reopen=_reopen_sql,
        description="SQL backend, SQLite file in WAL mode",
        scale=0.05,
    ),
    "postgresql": BackendEntry(
        create=_postgresql,
        reopen=_reopen_sql,
        description="SQL backend, psycopg 3, throw-away local server",
        scale=0.05,
    ),
}
