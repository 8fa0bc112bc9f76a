"""The SQL backend beyond the conformance kit: URLs, SQLite locking, savepoints, errors,
exact values, persistence across restarts, and the row mapping's coverage of every field."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales import AfterSales, FrozenClock
from aftersales.backends.sql import SqlBackend, mapping
from aftersales.backends.sql.engine import Database, normalize_url
from aftersales.backends.sql.errors import translate
from aftersales.backends.sql.schema import metadata
from aftersales.errors import (
    BackendError,
    BackendUnavailable,
    ConfigurationError,
    ConflictError,
    DatabaseLocked,
    DuplicateKey,
    InvalidInput,
)
from aftersales.ids import new_id
from aftersales.models import (
    Coupon,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    Partner,
    Service,
    SubscriptionState,
    Tax,
)
from aftersales.plugins import load_backend
from aftersales.testing import assert_unchanged, build_scenario
from aftersales.testing.scenario import AGENT, MANAGER, SYSTEM
from tests.postgres import PostgresServer

START = "2026-11-28T09:00:00+00:00"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "aftersales.db"


@pytest.fixture
def sqlite_backend(path: Path) -> Iterator[SqlBackend]:
    backend = SqlBackend(path)
    yield backend
    backend.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, path: Path) -> str:
    if request.param == "sqlite":
        return str(path)
    server: PostgresServer = request.getfixturevalue("aftersales_postgres")
    return server.create_database()


def test_reset_leaves_what_a_new_database_holds(url: str) -> None:
    backend = SqlBackend(url, installed_modules=("base", "mail", "helpdesk", "loyalty"))
    try:
        new = backend.snapshot()
        build_scenario(backend.builder(FrozenClock(START)))
        assert backend.snapshot() != new
        backend.reset()
        assert backend.snapshot() == new
    finally:
        backend.close()


# -- URLs and the entry point -------------------------------------------------------------


def test_a_file_path_means_sqlite(tmp_path: Path) -> None:
    url = normalize_url(tmp_path / "data" / "a.db")
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "data" / "a.db")
    assert normalize_url("relative.db").database == str(Path("relative.db").resolve())


def test_postgres_urls_use_psycopg() -> None:
    for text in ("postgresql://u:secret@db/after", "postgres://u:secret@db/after"):
        url = normalize_url(text)
        assert url.drivername == "postgresql+psycopg"
        assert url.database == "after"
    backend_url = Database("postgresql://u:secret@localhost:1/after").safe_url
    assert "secret" not in backend_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("postgresql+asyncpg://u@h/db", "unsupported PostgreSQL driver 'asyncpg'"),
        ("sqlite+aiosqlite:///a.db", "unsupported database 'sqlite'"),
    ],
)
def test_unusable_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        normalize_url(url)


def test_the_environment_names_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", str(tmp_path / "env.db"))
    backend = load_backend("sql")
    assert isinstance(backend, SqlBackend)
    try:
        assert backend.db.url.database == str(tmp_path / "env.db")
        app = AfterSales("sql")
        assert "sql" in app.plugins()
        close = getattr(app.pm.get_plugin("sql"), "close", None)
        assert close is not None
        close()
    finally:
        backend.close()


# -- SQLite: WAL, busy timeout, BEGIN IMMEDIATE -------------------------------------------


def test_sqlite_uses_wal_and_a_busy_timeout(path: Path) -> None:
    backend = SqlBackend(path, busy_timeout=2.5)
    try:
        with backend.db.connection(writes=False) as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        backend.close()


@pytest.fixture
def two_on_one_file(path: Path) -> Iterator[tuple[SqlBackend, SqlBackend]]:
    """Two backends on one SQLite file; the second waits 50 ms for the write lock."""
    first, second = SqlBackend(path), SqlBackend(path, busy_timeout=0.05)
    yield first, second
    first.close()
    second.close()


def test_a_writing_unit_holds_the_write_lock_from_its_start(
    two_on_one_file: tuple[SqlBackend, SqlBackend],
) -> None:
    """BEGIN IMMEDIATE: a second writer cannot start (it would wait, then report busy),
    while readers go on reading the last committed state (WAL)."""
    first, second = two_on_one_file
    team = first.builder().team(name="Support")
    app1, app2 = AfterSales(first), AfterSales(second)
    with app1.runtime.unit(writes=True):
        app1.hooks.save_team(attrs.evolve(team, name="Changing"))
        with (
            pytest.raises(ConflictError, match=r"busy|locked"),
            app2.runtime.unit(writes=True),
        ):
            pass
        with app2.runtime.unit(writes=False):
            assert app2.hooks.get_team(team.id).name == "Support"


def test_busy_writers_are_retried_by_the_runtime(
    two_on_one_file: tuple[SqlBackend, SqlBackend],
) -> None:
    """A writer that finds the database busy is rolled back and retried (bounded)."""
    first, second = two_on_one_file
    app1, app2 = AfterSales(first), AfterSales(second)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with app1.runtime.unit(writes=True) as uow:
            first.ledger.next_number("A")
            holding.set()
            release.wait(10)
            uow.commit()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        holding.wait(10)
        with pytest.raises(ConflictError, match="gave up after 3 attempts"):
            app2.runtime.write(lambda _uow: second.ledger.next_number("A"))
    finally:
        release.set()
        thread.join(10)
    assert app2.runtime.write(lambda _uow: second.ledger.next_number("A")) == 2


# -- units of work: thread-local connections and savepoints ------------------------------


def test_a_unit_inside_a_unit_is_a_savepoint(sqlite_backend: SqlBackend) -> None:
    app = AfterSales(sqlite_backend)
    with app.runtime.unit(writes=True) as outer:
        assert sqlite_backend.ledger.next_number("S") == 1
        with app.runtime.unit(writes=True):
            assert sqlite_backend.ledger.next_number("S") == 2
        # the inner unit rolled back: its number is given back
        with app.runtime.unit(writes=True) as inner:
            assert sqlite_backend.ledger.next_number("S") == 2
            inner.commit()
        outer.commit()
    assert app.runtime.write(lambda _uow: sqlite_backend.ledger.next_number("S")) == 3
    assert sqlite_backend.db.current is None


def test_each_thread_has_its_own_transaction(sqlite_backend: SqlBackend) -> None:
    app = AfterSales(sqlite_backend)
    seen: list[object] = []
    with app.runtime.unit(writes=False):
        mine = sqlite_backend.db.current
        thread = threading.Thread(target=lambda: seen.append(sqlite_backend.db.current))
        thread.start()
        thread.join()
    assert mine is not None
    assert seen == [None]
    assert sqlite_backend.db.current is None


def test_a_failed_commit_ends_the_unit_and_the_thread_can_go_on(
    sqlite_backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = AfterSales(sqlite_backend)

    def refuse(self: object) -> None:
        raise sa_exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    def write() -> None:
        with monkeypatch.context() as patch:
            patch.setattr(sa.RootTransaction, "commit", refuse)
            app.runtime.write(lambda _uow: sqlite_backend.ledger.next_number("X"))

    with assert_unchanged(sqlite_backend), pytest.raises(BackendUnavailable, match="disk"):
        write()
    assert sqlite_backend.db.current is None
    assert app.runtime.write(lambda _uow: sqlite_backend.ledger.next_number("X")) == 1


# -- errors: never a raw driver exception (RL-5) ------------------------------------------


def _wrap(cls: type[sa_exc.DBAPIError], orig: BaseException) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (
            _wrap(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")),
            ConflictError,
            "busy",
        ),
        (
            _wrap(sa_exc.IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed: c.x")),
            DuplicateKey,
            "already exists",
        ),
        (
            _wrap(sa_exc.IntegrityError, sqlite3.IntegrityError("NOT NULL constraint failed")),
            BackendError,
            "refused a write",
        ),
        (
            _wrap(sa_exc.OperationalError, psycopg.errors.SerializationFailure("could not")),
            ConflictError,
            "concurrent update",
        ),
        (
            _wrap(sa_exc.OperationalError, psycopg.errors.DeadlockDetected("deadlock")),
            ConflictError,
            "concurrent update",
        ),
        (
            _wrap(sa_exc.OperationalError, psycopg.errors.LockNotAvailable("lock timeout")),
            ConflictError,
            "holds a lock",
        ),
        (
            _wrap(sa_exc.OperationalError, psycopg.errors.AdminShutdown("terminating")),
            BackendUnavailable,
            "unavailable",
        ),
        (
            _wrap(sa_exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")),
            DuplicateKey,
            "already exists",
        ),
        (
            _wrap(sa_exc.OperationalError, psycopg.OperationalError("connection refused")),
            BackendUnavailable,
            "connection refused",
        ),
        (
            _wrap(sa_exc.ProgrammingError, psycopg.errors.SyntaxError("syntax error")),
            BackendError,
            "syntax error",
        ),
        (sa_exc.TimeoutError("QueuePool limit reached"), BackendUnavailable, "QueuePool"),
    ],
)
def test_rl5_driver_errors_are_translated(
    error: sa_exc.SQLAlchemyError, expected: type[BackendError], message: str
) -> None:
    translated = translate(error)
    assert type(translated) is expected
    assert message in str(translated)


def test_rl5_an_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="unavailable") as caught:
        SqlBackend("postgresql://nobody@127.0.0.1:1/nothing")
    assert isinstance(caught.value.__cause__, sa_exc.OperationalError)


def test_rl5_a_missing_table_names_the_likely_cause(path: Path) -> None:
    backend = SqlBackend(path)
    with backend.db.connection() as conn:
        conn.exec_driver_sql("DROP TABLE teams")
    try:
        with pytest.raises(BackendError, match=r"no such table.*migrated"):
            backend.aftersales_helpdesk_list_teams()
    finally:
        backend.close()


def test_rl5_a_stored_row_its_record_refuses_is_a_backend_error(
    sqlite_backend: SqlBackend,
) -> None:
    """A row written by hand (or by code that validated less) that the record refuses is
    reported as the store's fault, naming the table and the row — not as the caller's
    InvalidInput."""
    outbox = metadata.tables["outbox"]
    with sqlite_backend.db.connection() as conn:
        conn.execute(
            outbox.insert().values(
                id="mail-1",
                recipients=["Ana <ana@example.com>"],
                subject="Hi",
                text_body="Hi",
                html_body="<p>Hi</p>",
                created_at=datetime(2026, 11, 28, tzinfo=UTC),
                state="pending",
                attempts=0,
                last_error="",
            )
        )
    app = AfterSales(sqlite_backend)
    with pytest.raises(BackendError, match=r"row 'mail-1' of table 'outbox'.*recipients") as err:
        app.outbox.emails(actor=SYSTEM)
    assert isinstance(err.value.__cause__, InvalidInput)


# -- exact values --------------------------------------------------------------------------


@pytest.fixture
def sql_backend(url: str) -> Iterator[SqlBackend]:
    backend = SqlBackend(url)
    yield backend
    backend.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    points=st.decimals(min_value=0, max_value=Decimal("1e12"), places=6, allow_nan=False),
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    micro=st.integers(min_value=0, max_value=999_999),
)
def test_decimals_and_times_read_back_exactly(
    sql_backend: SqlBackend, points: Decimal, amount: Decimal, offset: int, micro: int
) -> None:
    """Exact decimals (text on SQLite, NUMERIC on PostgreSQL) keep their value and scale;
    times keep their instant, microseconds and UTC offset."""
    zone = timezone(timedelta(minutes=offset))
    created = datetime(2026, 11, 28, 9, 0, 0, micro, tzinfo=zone)
    number = new_id("c")
    coupon = Coupon(
        id=f"coupon-{number}",
        code=number,
        program_id="program-1",
        partner_id="partner-1",
        points=points,
        created_at=created,
    )
    sql_backend.coupons.insert_coupon(coupon)
    stored = sql_backend.aftersales_loyalty_get_coupon(coupon_id=coupon.id, lock=False)
    assert stored == coupon
    assert str(stored.points) == str(points)
    assert stored.created_at.isoformat() == created.isoformat()
    line = InvoiceLine(
        description="Part",
        quantity=Decimal("1.5"),
        unit_price=Money(amount=amount, currency="EUR"),
        taxes=(Tax(name="21%", percent=Decimal("21")),),
    )
    invoice = Invoice(
        id=f"inv-{number}",
        kind=InvoiceKind.INVOICE,
        customer_id="partner-1",
        currency="EUR",
        lines=(line,),
        state=InvoiceState.POSTED,
        created_at=created,
        invoice_date=created.date(),
    )
    sql_backend.ledger.save_invoice(invoice)
    read = sql_backend.aftersales_accounting_get_invoice(invoice_id=invoice.id, lock=False)
    assert read == invoice
    assert str(read.residual.amount) == str(invoice.residual.amount)
    assert str(read.lines[0].quantity) == "1.5"


# -- persistence ---------------------------------------------------------------------------


def test_the_trial_and_team_settings_survive_a_restart(url: str) -> None:
    """Configure a team (a trial starts), close; a new application on the same database
    sees the same settings, trial, audit trail and ticket view, and locks when the trial
    ends. (Documents made by every service are checked by the conformance kit's
    PersistenceFlow, on SQLite and PostgreSQL.)"""
    clock = FrozenClock(START)
    backend = SqlBackend(url)
    world = backend.builder(clock)
    team = world.team(name="Support")
    ticket = world.ticket(team=team, title="Broken", customer=world.customer(name="Ana"))
    app = AfterSales(backend, clock=clock)
    app.settings.configure(team.id, enable={Service.REFUNDS, Service.COUPONS}, actor=MANAGER)
    status = app.subscription.status(actor=MANAGER)
    settings_before = app.settings.team_settings(team.id, actor=MANAGER)
    audit = list(app.hooks.audit_list())
    view = app.tickets.view(ticket.id, actor=AGENT)
    snapshot = backend.snapshot()
    backend.close()
    assert status.state is SubscriptionState.TRIAL

    reopened = SqlBackend(url)
    try:
        again = AfterSales(reopened, clock=clock)
        assert reopened.snapshot() == snapshot
        assert again.subscription.status(actor=MANAGER) == status
        assert again.settings.team_settings(team.id, actor=MANAGER) == settings_before
        assert list(again.hooks.audit_list()) == audit
        assert again.tickets.view(ticket.id, actor=AGENT) == view
        clock.advance(days=15)
        with pytest.raises(DatabaseLocked):
            again.tickets.view(ticket.id, actor=AGENT)
    finally:
        reopened.close()


# -- the mapping covers every field --------------------------------------------------------


def _unmapped(kind: type[Any], table: str) -> list[str]:
    """The fields of `kind` that no column of `table` (or a child table) stores."""
    columns = set(metadata.tables[table].c.keys())
    money = set(mapping.money_fields(kind))
    children = {name for owner, name in mapping.CHILDREN if owner is kind}
    return [
        f.name
        for f in attrs.fields(kind)
        if f.name not in columns
        and not (f.name in money and {f"{f.name}_amount", f"{f.name}_currency"} <= columns)
        and f.name not in children
        and f.name not in mapping.OMITTED.get(kind, frozenset())
    ]


@pytest.mark.parametrize("kind", list(mapping.TABLES), ids=lambda k: k.__name__)
def test_every_record_field_has_a_column(kind: type[Any]) -> None:
    """A field added to a record must be stored: derived from the table map, this names a
    field that no column of the record's table holds."""
    assert _unmapped(kind, mapping.TABLES[kind]) == [], f"{kind.__name__} fields without a column"


def test_a_field_no_column_stores_is_named() -> None:
    """A record that gained a field fails the check above, naming the field."""

    @attrs.frozen
    class Grown(Partner):
        loyalty_tier: str = ""

    assert _unmapped(Grown, "partners") == ["loyalty_tier"]


@pytest.mark.parametrize("kind", list(mapping.CHILDREN))
def test_every_child_table_is_mapped(kind: tuple[type[Any], str]) -> None:
    item, parent = mapping.CHILDREN[kind]
    columns = set(metadata.tables[mapping.TABLES[item]].c.keys())
    assert {parent, "position"} <= columns


def test_snapshot_sees_every_change(sqlite_backend: SqlBackend) -> None:
    team = sqlite_backend.builder().team(name="Support")
    with pytest.raises(AssertionError, match="teams: changed"), assert_unchanged(sqlite_backend):
        sqlite_backend.aftersales_helpdesk_save_team(attrs.evolve(team, name="Other"))
    with pytest.raises(AssertionError, match="sequences: added"), assert_unchanged(sqlite_backend):
        sqlite_backend.ledger.next_number("NEW")
