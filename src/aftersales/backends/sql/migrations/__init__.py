"""Versioned schema migrations with a ``schema_version`` table.

Each migration is a module ``vNNNN_<name>.py`` in this package with a docstring (its
description) and ``upgrade(conn)``; :data:`MIGRATIONS` lists them in order. :func:`upgrade`
brings a database — empty or at any earlier version — to :data:`~..schema.SCHEMA_VERSION`,
one version per step, each step in its own transaction together with its
``schema_version`` row, so a failed step leaves the database at the previous version.

Concurrent processes opening the same database serialize on the migration: SQLite through
``BEGIN IMMEDIATE``, PostgreSQL through a transaction-level advisory lock.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aftersales.backends.sql.engine import Database
from aftersales.backends.sql.errors import translated
from aftersales.backends.sql.migrations import (
    v0001_initial,
    v0002_mail,
    v0003_credit_method,
    v0004_ticket_ref,
    v0005_mail_delivery,
)
from aftersales.backends.sql.schema import SCHEMA_VERSION, build_metadata
from aftersales.errors import ConfigurationError

__all__ = ["MIGRATIONS", "Migration", "current_version", "upgrade"]

_ADVISORY_LOCK = 0x61667473  # "afts"


@attrs.frozen
class Migration:
    """One step of the schema's history."""

    version: int
    description: str
    run: Callable[[Connection], None]

    @classmethod
    def of(cls, module: ModuleType) -> Migration:
        version = int(module.__name__.rsplit(".", 1)[-1][1:5])
        return cls(version, inspect.cleandoc(module.__doc__ or "").splitlines()[0], module.upgrade)


#: Every migration, oldest first; the last one's version is the schema version.
MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration.of(m)
    for m in (v0001_initial, v0002_mail, v0003_credit_method, v0004_ticket_ref, v0005_mail_delivery)
)

assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))

_version_table = build_metadata(1).tables["schema_version"]


def current_version(conn: Connection) -> int:
    """The version of the schema in the database (0 when it is empty)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(sa.select(sa.func.max(_version_table.c.version))).scalar()
    return int(found or 0)


def upgrade(database: Database, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Migrate ``database`` to ``target``; return ``(version before, version after)``.

    Raises :class:`~aftersales.errors.ConfigurationError` when the database is newer than
    this code (downgrades are not supported: restore a backup instead).
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ConfigurationError(f"unknown schema version {target}")
    start: int | None = None
    while True:
        with translated():
            conn = database._connect(True)
            try:
                with conn.begin():
                    if database.dialect == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
                    version = current_version(conn)
                    if start is None:
                        start = version
                    if version > SCHEMA_VERSION:
                        raise ConfigurationError(
                            f"the database {database.safe_url} has schema version {version}, "
                            f"newer than this aftersales ({SCHEMA_VERSION}); upgrade aftersales"
                        )
                    if version >= target:
                        return start, version
                    step = MIGRATIONS[version]
                    step.run(conn)
                    conn.execute(
                        _version_table.insert().values(
                            version=step.version,
                            description=step.description,
                            applied_at=datetime.now(UTC),
                        )
                    )
            finally:
                conn.close()
