"""The conformance kit on every backend we ship: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.testing.conformance import (
    BackendContract,
    Factory,
    LedgerContract,
    Reopen,
    StockLedgerContract,
)
from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_database(aftersales_postgres: PostgresServer) -> str:
    """One database migrated once; each test empties it first (faster than a new one)."""
    url = aftersales_postgres.create_database("aftersales_conformance")
    SqlBackend(url).close()
    return url


class TestMemoryBackend(BackendContract, LedgerContract, StockLedgerContract):
    @pytest.fixture
    def aftersales_backend(self) -> Any:
        return MemoryBackend()


def reopen(backend: SqlBackend) -> SqlBackend:
    """Close ``backend`` and open a new one on its database, as a restart does."""
    url = backend.db.url
    backend.close()
    return SqlBackend(url)


class TestSqliteBackend(BackendContract, LedgerContract, StockLedgerContract):
    @pytest.fixture
    def aftersales_backend(self, new_sqlite: Callable[[], str]) -> Iterator[SqlBackend]:
        backend = SqlBackend(new_sqlite())
        yield backend
        backend.close()

    @pytest.fixture
    def aftersales_reopen(self) -> Reopen:
        return reopen

    @pytest.fixture
    def aftersales_factory(self, aftersales_backend: SqlBackend) -> Factory:
        return functools.partial(SqlBackend, aftersales_backend.db.url)


@pytest.mark.postgres
class TestPostgresBackend(BackendContract, LedgerContract, StockLedgerContract):
    @pytest.fixture
    def aftersales_backend(self, postgres_database: str) -> Iterator[SqlBackend]:
        backend = SqlBackend(postgres_database)
        backend.reset()
        yield backend
        backend.close()

    @pytest.fixture
    def aftersales_reopen(self) -> Reopen:
        return reopen

    @pytest.fixture
    def aftersales_factory(self, aftersales_backend: SqlBackend) -> Factory:
        return functools.partial(SqlBackend, aftersales_backend.db.url)
