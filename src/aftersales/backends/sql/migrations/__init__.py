"""Versioned schema migrations with a `schema_version` table.

Each migration is a module `vNNNN_<name>.py` in this package with a docstring (its
description) and `upgrade(conn)`; `MIGRATIONS` finds them and lists them in order.
`upgrade()` brings a database — empty or at any earlier version — to
`SCHEMA_VERSION`, one migration per step (to the next migration's version: versions
rise but need not be consecutive), each step in its own transaction together with its
`schema_version` row, so a failed step leaves the database at the previous version.

A database is *seeded* with its modules (`seed()`, by default `base`, `mail` and
`helpdesk`) in the transaction that brings it to the current version, and by every later
`upgrade()` or `SqlBackend` open that finds it unseeded: a first open killed between
two steps, or a database made by `aftersales db upgrade`, still ends with its modules.

Concurrent processes opening the same database serialize on the migration: SQLite through
`BEGIN IMMEDIATE`, PostgreSQL through a transaction-level advisory lock.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import ModuleType

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from aftersales.backends.sql.engine import Database
from aftersales.backends.sql.errors import translated
from aftersales.backends.sql.schema import SCHEMA_VERSION, build_metadata
from aftersales.errors import ConfigurationError
from aftersales.modules import BASE_MODULES

__all__ = [
    "DEFAULT_MODULES",
    "MIGRATIONS",
    "Migration",
    "current_version",
    "installed",
    "seed",
    "upgrade",
]

#: The modules a new database is seeded with (`SqlBackend(installed_modules=...)`).
DEFAULT_MODULES: tuple[str, ...] = ("base", "mail", "helpdesk")

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
    Migration.of(importlib.import_module(f"{__name__}.{info.name}"))
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
    if info.name.startswith("v")
)

assert [m.version for m in MIGRATIONS] == sorted({m.version for m in MIGRATIONS})
assert MIGRATIONS[-1].version == SCHEMA_VERSION


def _next_step(version: int) -> Migration:
    """The migration that follows schema `version` (versions need not be consecutive)."""
    return next(m for m in MIGRATIONS if m.version > version)


_version_table = build_metadata(1).tables["schema_version"]
_modules_table = build_metadata(1).tables["modules"]


def current_version(conn: Connection) -> int:
    """The version of the schema in the database (0 when it is empty)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(sa.select(sa.func.max(_version_table.c.version))).scalar()
    return int(found or 0)


def installed(conn: Connection) -> set[str]:
    """The names in the `modules` table."""
    return set(conn.execute(sa.select(_modules_table.c.name)).scalars())


def seed(conn: Connection, modules: Iterable[str] = DEFAULT_MODULES) -> tuple[str, ...]:
    """Install `modules` (and the base modules) on a database that was never seeded;
    return the names inserted.

    A database without `base` was never seeded (`base` cannot be uninstalled); one that
    has it is left alone, so a module uninstalled later is not installed again. The insert
    skips a name already there, so two processes seeding at once both succeed.
    """
    present = installed(conn)
    if "base" in present:
        return ()
    names = tuple(dict.fromkeys((*sorted(BASE_MODULES), *modules)))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    missing = tuple(name for name in names if name not in present)
    for name in missing:
        conn.execute(
            dialect.insert(_modules_table)
            .values(name=name)
            .on_conflict_do_nothing(index_elements=["name"])
        )
    return missing


def upgrade(
    database: Database,
    target: int = SCHEMA_VERSION,
    *,
    modules: Iterable[str] = DEFAULT_MODULES,
) -> tuple[int, int]:
    """Migrate `database` to `target`; return `(version before, version after)`.

    A database at the current version ends `seed()`-ed with `modules` (in the
    transaction of the last step, or in the check when there is none to run).

    Raises [`ConfigurationError`][aftersales.errors.ConfigurationError] when the database is newer
    than this code (downgrades are not supported: restore a backup instead).
    """
    if target != 0 and target not in {m.version for m in MIGRATIONS}:
        raise ConfigurationError(f"unknown schema version {target}")
    modules = tuple(modules)
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
                        if version == SCHEMA_VERSION:
                            seed(conn, modules)
                        return start, version
                    step = _next_step(version)
                    step.run(conn)
                    conn.execute(
                        _version_table.insert().values(
                            version=step.version,
                            description=step.description,
                            applied_at=datetime.now(UTC),
                        )
                    )
                    if step.version == SCHEMA_VERSION:
                        seed(conn, modules)
            finally:
                conn.close()
