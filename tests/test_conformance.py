"""The conformance kit on every backend we ship: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.backends.sql.schema import metadata
from aftersales.testing.conformance import BackendContract
from aftersales.testing.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_database(aftersales_postgres: PostgresServer) -> str:
    """One database migrated once; each test empties it first (faster than a new one)."""
    url = aftersales_postgres.create_database("aftersales_conformance")
    SqlBackend(url).close()
    return url


def empty(backend: SqlBackend) -> None:
    """Delete every row (the schema stays) and seed the modules of a new database."""
    with backend.db.connection() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "schema_version":
                conn.execute(table.delete())
    for module in ("base", "mail", "helpdesk"):
        backend.aftersales_modules_install(module)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test works on a copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    SqlBackend(path).close()  # the last connection to close checkpoints the WAL
    assert not path.with_name(path.name + "-wal").exists()
    return path


class TestMemoryBackend(BackendContract):
    @pytest.fixture
    def aftersales_backend(self) -> Any:
        return MemoryBackend()


class TestSqliteBackend(BackendContract):
    @pytest.fixture
    def aftersales_backend(self, tmp_path: Path, sqlite_template: Path) -> Iterator[SqlBackend]:
        path = tmp_path / "aftersales.db"
        shutil.copyfile(sqlite_template, path)
        backend = SqlBackend(path)
        yield backend
        backend.close()


@pytest.mark.postgres
class TestPostgresBackend(BackendContract):
    @pytest.fixture
    def aftersales_backend(self, postgres_database: str) -> Iterator[SqlBackend]:
        backend = SqlBackend(postgres_database)
        empty(backend)
        yield backend
        backend.close()
