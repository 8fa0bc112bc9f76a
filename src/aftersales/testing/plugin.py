"""The aftersales pytest plugin (entry point `pytest11`): fixtures for tests and backends.

Fixtures (override `aftersales_backend` to run everything on your backend):

* `aftersales_clock` — a [`FrozenClock`][aftersales.clock.FrozenClock] at 2026-11-28 09:00 UTC;
* `aftersales_backend` — a fresh `MemoryBackend`;
* `aftersales_app` — an [`AfterSales`][aftersales.app.AfterSales] over that backend and clock;
* `aftersales_scenario` — the standard world (`build_scenario()`);
* `aftersales_postgres` — a throw-away PostgreSQL server for the session
  (`aftersales.testing.postgres`), skipped when none is installed unless
  `AFTERSALES_REQUIRE_POSTGRES=1`;
* `aftersales_postgres_url` — a new, empty database on that server for one test.

Backend authors run the conformance kit (`aftersales.testing.conformance`) by
subclassing its contracts and overriding `aftersales_backend`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aftersales.app import AfterSales
from aftersales.clock import FrozenClock
from aftersales.testing.postgres import (
    PostgresNotAvailable,
    PostgresServer,
    find_bindir,
    launch_postgres,
    postgres_required,
)
from aftersales.testing.scenario import Scenario, build_scenario

START = "2026-11-28T09:00:00+00:00"


@pytest.fixture
def aftersales_clock() -> FrozenClock:
    """A clock that only moves when the test moves it."""
    return FrozenClock(START)


@pytest.fixture
def aftersales_backend() -> Any:
    """The backend under test; override this fixture to test another backend."""
    from aftersales.backends.memory import MemoryBackend

    return MemoryBackend()


@pytest.fixture
def aftersales_app(aftersales_backend: Any, aftersales_clock: FrozenClock) -> AfterSales:
    """The library over the backend under test."""
    return AfterSales(aftersales_backend, clock=aftersales_clock)


@pytest.fixture
def aftersales_scenario(aftersales_backend: Any, aftersales_clock: FrozenClock) -> Scenario:
    """The standard world, built through the backend's builder."""
    return build_scenario(aftersales_backend.builder(aftersales_clock))


def _unavailable(reason: str) -> None:
    if postgres_required():
        pytest.fail(f"{reason} (AFTERSALES_REQUIRE_POSTGRES=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def aftersales_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for the test session and stopped after it."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install 'aftersales[postgres]'")
    if find_bindir() is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
            "/usr/lib/postgresql/*/bin; install the 'postgresql' package to run these tests"
        )
    try:
        server = launch_postgres()
    except PostgresNotAvailable as exc:
        _unavailable(f"could not start PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aftersales_postgres_url(aftersales_postgres: PostgresServer) -> str:
    """The URL of a new, empty database for this test."""
    return aftersales_postgres.create_database()
