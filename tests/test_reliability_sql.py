"""The reliability suite (RL-1 … RL-6) on SQLite and PostgreSQL, and what only a database
shared by several processes can show.

* the whole :class:`ReliabilityContract` — a fault at every hook call of every mutating call,
  replays and conflicting keys, hostile input for every parameter of every public call, the
  coupon and repair models (fewer examples than on the memory backend) — with the races run
  by **processes** that each open the database (RL-3);
* a lock held by another connection for longer than the retries allow: the call gives up
  with a :class:`ConflictError` saying so, nothing of it remains, and it goes through once
  the lock is released (RL-5: no deadlock survives);
* a process killed in the middle of one mutating call of each service leaves the database
  exactly as before (RL-1).

The standard world and the records the hostile-input table works on are built once per
database kind, in a database made from the migrated template of ``conftest.py``: each SQLite
test gets a copy of that file, and the PostgreSQL tests share one database put back to that
world before each test (much faster than a new database each time).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import sqlalchemy as sa

from aftersales import AfterSales, Config, FrozenClock, hookimpl
from aftersales.backends.sql import SqlBackend
from aftersales.backends.sql.schema import metadata
from aftersales.testing.conformance.processes import WorkerPool
from aftersales.testing.postgres import PostgresServer
from aftersales.testing.reliability import sql as sql_checks
from aftersales.testing.reliability.concurrency import PROCESSES, Runner, processes
from aftersales.testing.reliability.contract import ReliabilityContract
from aftersales.testing.reliability.crashes import CRASH_FLOWS, check_crashes, crash_flows
from aftersales.testing.reliability.flows import FLOWS, flow_named
from aftersales.testing.reliability.hostile import Targets, prepare_targets
from aftersales.testing.reliability.models import DATABASE_MODEL_RUNS
from aftersales.testing.reliability.setting import Setting
from aftersales.testing.reliability.sql import check_lock_held
from aftersales.unit_of_work import UnitOfWork
from tests.hostile_support import CurrentHostileInput

START = "2026-11-28T09:00:00+00:00"


@attrs.frozen
class World:
    """A template database holding the standard world and the hostile-input targets: the
    setting that built it (for its scenario and numbering) and the targets."""

    template: Setting
    targets: Targets


def build_world(url: str) -> World:
    backend = SqlBackend(url)
    try:
        setting = Setting.create(AfterSales(backend, clock=FrozenClock(START)), backend)
        return World(template=setting, targets=prepare_targets(setting))
    finally:
        backend.close()  # SQLite checkpoints its WAL: the file alone holds the world


def url_of(backend: SqlBackend) -> str:
    return backend.db.url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    """The worker processes of every race of this module (spawning is the slow part)."""
    with WorkerPool(PROCESSES) as workers:
        yield workers


@pytest.fixture(scope="session")
def sqlite_world_file(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-world") / "world.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture(scope="session")
def sqlite_world(sqlite_world_file: Path) -> World:
    return build_world(str(sqlite_world_file))


@pytest.fixture
def sqlite_copy(sqlite_world: World, sqlite_world_file: Path, tmp_path: Path) -> str:
    """A copy of the SQLite world template for one test."""
    path = tmp_path / "copy.db"
    shutil.copyfile(sqlite_world_file, path)
    return str(path)


@attrs.frozen
class PostgresWorld:
    """One PostgreSQL database for every test, put back to the world before each: a
    schema ``world`` keeps a copy of every table as the world left it."""

    url: str
    world: World
    engine: sa.Engine

    def reset(self) -> None:
        """Every table as the world left it, in one transaction (much faster than a new
        database per test). Rows keep their ``seq``; new rows number on from there."""
        tables = [t.name for t in metadata.sorted_tables if t.name != "schema_version"]
        script = "; ".join(
            [f'DELETE FROM public."{name}"' for name in reversed(tables)]
            + [f'INSERT INTO public."{name}" SELECT * FROM world."{name}"' for name in tables]
        )
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()
            cursor.execute(script)  # no parameters: one round trip for every statement
            cursor.close()


@pytest.fixture(scope="session")
def postgres_world(
    aftersales_postgres: PostgresServer, postgres_template: str
) -> Iterator[PostgresWorld]:
    name = "aftersales_reliability"
    url = aftersales_postgres.create_database(name, template=postgres_template)
    world = build_world(url)
    tables = [t.name for t in metadata.sorted_tables if t.name != "schema_version"]
    aftersales_postgres.sql(
        "CREATE SCHEMA world",
        *(f'CREATE TABLE world."{t}" AS TABLE public."{t}"' for t in tables),
        database=name,
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    yield PostgresWorld(url=url, world=world, engine=engine)
    engine.dispose()


@pytest.fixture
def postgres_copy(postgres_world: PostgresWorld) -> str:
    postgres_world.reset()
    return postgres_world.url


class _OnSql(CurrentHostileInput, ReliabilityContract):
    """The contract over a copy of the world template, races on processes."""

    model_runs: ClassVar[dict[str, tuple[int, int]]] = DATABASE_MODEL_RUNS

    @pytest.fixture
    def world(self) -> World:
        raise NotImplementedError

    @pytest.fixture
    def reliability(
        self, aftersales_app: AfterSales, aftersales_backend: Any, world: World
    ) -> Setting:
        return Setting.resume(aftersales_app, aftersales_backend, world.template)

    @pytest.fixture
    def hostile_targets(self, world: World) -> Targets:
        return world.targets

    @pytest.fixture
    def race_runner(self, pool: WorkerPool, aftersales_backend: SqlBackend) -> Runner:
        return processes(pool, functools.partial(SqlBackend, url_of(aftersales_backend)), START)


class TestReliabilityOnSqlite(_OnSql):
    @pytest.fixture
    def world(self, sqlite_world: World) -> World:
        return sqlite_world

    @pytest.fixture
    def aftersales_backend(self, sqlite_copy: str) -> Iterator[SqlBackend]:
        backend = SqlBackend(sqlite_copy)
        yield backend
        backend.close()


@pytest.mark.postgres
class TestReliabilityOnPostgres(_OnSql):
    @pytest.fixture
    def world(self, postgres_world: PostgresWorld) -> World:
        return postgres_world.world

    @pytest.fixture
    def aftersales_backend(self, postgres_copy: str) -> Iterator[SqlBackend]:
        backend = SqlBackend(postgres_copy)
        yield backend
        backend.close()


# -- one database of each kind, for the tests below ---------------------------------------------


@attrs.frozen
class Database:
    """A database holding the world (a copy of the template), of one kind."""

    kind: str
    url: str
    world: World

    def open(self, **options: Any) -> SqlBackend:
        return SqlBackend(self.url, **options)

    def setting(self, backend: SqlBackend, config: Config | None = None) -> Setting:
        app = AfterSales(backend, clock=FrozenClock(START), config=config or Config())
        return Setting.resume(app, backend, self.world.template)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    if request.param == "sqlite":
        world: World = request.getfixturevalue("sqlite_world")
        return Database("sqlite", request.getfixturevalue("sqlite_copy"), world)
    postgres: PostgresWorld = request.getfixturevalue("postgres_world")
    return Database("postgresql", request.getfixturevalue("postgres_copy"), postgres.world)


# -- RL-5: a lock held for longer than the retries allow -----------------------------------------


@pytest.mark.parametrize("retries", [1, 3])
def test_rl5_a_lock_held_longer_than_the_retries_allow_is_a_conflict(
    database: Database, retries: int
) -> None:
    """A full refund needs the invoice locked; another connection holds it (the row on
    PostgreSQL, the write lock on SQLite). Each attempt waits 0.1 s, is rolled back and
    retried; after ``retries`` attempts the call fails with a ConflictError that says so,
    and nothing of it remains. Released, the same call under the same key goes through."""
    backend = database.open()
    try:
        setting = database.setting(backend, Config(retries=retries))
        assert check_lock_held(setting, database.url) == retries
    finally:
        backend.close()


def test_rl5_the_lock_check_fails_when_the_call_does_not_wait(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check can fail: with the lock taken by nobody the call goes through at once."""
    monkeypatch.setattr(sql_checks, "invoice_locked", lambda _url, _id: nullcontext())
    backend = database.open()
    try:
        setting = database.setting(backend)
        with pytest.raises(AssertionError, match="went through a lock another connection holds"):
            check_lock_held(setting, database.url)
    finally:
        backend.close()


# -- RL-1: a process killed in the middle of a call ----------------------------------------------


@pytest.mark.slow
def test_rl1_a_process_killed_before_its_commit_leaves_nothing_in_any_service(
    database: Database,
) -> None:
    """One mutating call of each service (the one that writes the most) runs in its own
    process, does all its work in the open transaction and is killed with SIGKILL where it
    would commit: the database is exactly as before, and the same call under the same key
    then does all the work once (as many hook calls as the killed one had made)."""
    backend = database.open()
    try:
        setting = database.setting(backend)
        results = check_crashes(
            setting, crash_flows(), functools.partial(SqlBackend, database.url), START
        )
    finally:
        backend.close()
    assert [r.flow for r in results] == list(CRASH_FLOWS)
    assert {FLOWS_BY_NAME[r.flow].call.split(".")[0] for r in results} == SERVICES_WITH_WRITES
    for result in results:
        assert result.hook_calls > 5, result
        assert dict(result.retry_touched).get("idempotency_keys") == 1, result
        assert dict(result.retry_touched).get("audit", 0) >= 1, result


FLOWS_BY_NAME = {flow.name: flow for flow in FLOWS}
SERVICES_WITH_WRITES = {flow.call.split(".")[0] for flow in FLOWS}


class _NoTransaction:
    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None


class AutocommitBackend(SqlBackend):
    """Commits every hook call at once, as a backend that ignores units of work would."""

    @hookimpl
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        uow.enlist(_NoTransaction())


@pytest.mark.slow
def test_rl1_the_crash_check_catches_a_backend_that_commits_each_step(
    sqlite_world: World, sqlite_copy: str
) -> None:
    database = Database("sqlite", sqlite_copy, sqlite_world)
    backend = database.open()
    try:
        setting = database.setting(backend)
        flow = flow_named("field_service.create_and_view_task")
        with pytest.raises(AssertionError, match=r"(?s)left changes behind:\n.*tasks: added"):
            check_crashes(setting, [flow], functools.partial(AutocommitBackend, sqlite_copy), START)
    finally:
        backend.close()
