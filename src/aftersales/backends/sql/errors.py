"""Driver errors in, [`aftersales.errors.BackendError`][aftersales.errors.BackendError] subclasses
out (RL-5).

* serialization failures, deadlocks, and waits for a lock another transaction holds that
  outlast the timeout (PostgreSQL `lock_timeout`, SQLite's busy timeout) →
  [`ConflictError`][aftersales.errors.ConflictError]: concurrent work is in the way;
* a lost or refused connection, a cancelled statement, a server out of resources →
  [`BackendUnavailable`][aftersales.errors.BackendUnavailable];

  (both make `Runtime.write` roll back and retry);
* a unique constraint → [`DuplicateKey`][aftersales.errors.DuplicateKey];
* anything else → [`BackendError`][aftersales.errors.BackendError].

The driver's exception is kept as `__cause__` for logs; it never escapes on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy.exc as sa_exc

from aftersales.errors import BackendError, BackendUnavailable, ConflictError, DuplicateKey

__all__ = ["is_unique_violation", "translate", "translated"]

#: PostgreSQL SQLSTATEs of concurrent work in the way: serialization failure, deadlock.
_PG_CONFLICT = {"40001", "40P01"}
#: PostgreSQL's "lock not available": `lock_timeout` ran out waiting for another's lock.
_PG_LOCK_TIMEOUT = "55P03"
#: PostgreSQL SQLSTATEs (or classes) that mean "not now": cancelled, shutting down, full.
_PG_UNAVAILABLE = {"57014", "57P01", "57P02", "57P03", "53300", "53400"}
_PG_UNAVAILABLE_CLASSES = ("08", "53")
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")


def _sqlstate(exc: sa_exc.DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _sqlite_name(exc: sa_exc.DBAPIError) -> str:
    name = getattr(exc.orig, "sqlite_errorname", "")
    return name if isinstance(name, str) else ""


def _message(exc: sa_exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:300]


def is_unique_violation(exc: sa_exc.DBAPIError) -> bool:
    """True when `exc` is a unique or primary-key violation."""
    if _sqlstate(exc) == "23505":
        return True
    name = _sqlite_name(exc)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return True
    return "UNIQUE constraint failed" in str(exc.orig)


def translate(exc: sa_exc.SQLAlchemyError) -> BackendError:
    """The library error for a SQLAlchemy or driver error."""
    message = _message(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        state = _sqlstate(exc)
        if exc.connection_invalidated:
            return BackendUnavailable(f"database connection lost: {message}")
        if isinstance(exc, sa_exc.IntegrityError):
            if is_unique_violation(exc):
                return DuplicateKey("row", message)
            return BackendError(f"database refused a write: {message}")
        if state is not None:
            if state in _PG_CONFLICT:
                return ConflictError(f"concurrent update, try again: {message}")
            if state == _PG_LOCK_TIMEOUT:
                return ConflictError(f"another transaction holds a lock, try again: {message}")
            if state in _PG_UNAVAILABLE or state.startswith(_PG_UNAVAILABLE_CLASSES):
                return BackendUnavailable(f"database unavailable: {message}")
        if _sqlite_name(exc).startswith(_SQLITE_BUSY) or "database is locked" in message:
            return ConflictError(f"database is busy with another writer, try again: {message}")
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            if "no such table" in message or "does not exist" in message:
                return BackendError(f"{message} (is the schema migrated?)")
            return BackendUnavailable(f"database unavailable: {message}")
        return BackendError(f"database error: {message}")
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return BackendUnavailable(f"database unavailable: {message}")
    return BackendError(f"database error: {message}")


@contextmanager
def translated() -> Iterator[None]:
    """Run a block, turning SQLAlchemy and driver errors into library errors."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc) from exc
