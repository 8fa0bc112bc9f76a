"""Short names for the plugin's fixtures, used across the suite."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.testing import Actors, Scenario
from tests.reliability.setting import Setting

if TYPE_CHECKING:
    from tests.postgres import PostgresServer

#: The throw-away PostgreSQL server's fixtures (``aftersales_postgres``, ...).
pytest_plugins = ["tests.postgres"]


@pytest.fixture
def clock(aftersales_clock: FrozenClock) -> FrozenClock:
    return aftersales_clock


@pytest.fixture
def backend(aftersales_backend: Any) -> Any:
    return aftersales_backend


@pytest.fixture
def app(aftersales_app: AfterSales) -> AfterSales:
    return aftersales_app


@pytest.fixture
def scenario(aftersales_scenario: Scenario) -> Scenario:
    return aftersales_scenario


@pytest.fixture
def actors() -> Actors:
    return Actors()


# -- SQL databases, migrated once per session ---------------------------------------------


@pytest.fixture
def setting(app: AfterSales, backend: Any) -> Setting:
    """The reliability kit's setting over the memory backend of ``app``."""
    return Setting.create(app, backend)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; tests work on copies of it (see ``new_sqlite``)."""
    from aftersales.backends.sql import SqlBackend

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    SqlBackend(path).close()  # the last connection to close checkpoints the WAL
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def new_sqlite(sqlite_template: Path, tmp_path: Path) -> Callable[[], str]:
    """Makes migrated SQLite databases: copies of the template, one file each."""
    count = 0

    def make() -> str:
        nonlocal count
        count += 1
        path = tmp_path / f"copy-{count}.db"
        shutil.copyfile(sqlite_template, path)
        return str(path)

    return make


@pytest.fixture(scope="session")
def postgres_template(aftersales_postgres: PostgresServer) -> str:
    """The name of a PostgreSQL database migrated once, to copy with ``TEMPLATE``."""
    from aftersales.backends.sql import SqlBackend

    name = "aftersales_template"
    SqlBackend(aftersales_postgres.create_database(name)).close()
    return name


@pytest.fixture
def new_postgres(aftersales_postgres: PostgresServer, postgres_template: str) -> Callable[[], str]:
    """Makes migrated PostgreSQL databases: copies of the template database."""
    return lambda: aftersales_postgres.create_database(template=postgres_template)
