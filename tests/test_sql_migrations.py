"""The SQL schema's migration path: from an empty database and from the previous version."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from aftersales import Actor, AfterSales
from aftersales.backends.sql import MIGRATIONS, SCHEMA_VERSION, SqlBackend, current_version, mapping
from aftersales.backends.sql.engine import Database
from aftersales.backends.sql.migrations import upgrade
from aftersales.backends.sql.schema import build_metadata, metadata
from aftersales.errors import ConfigurationError
from aftersales.models import (
    CreditMethod,
    EmailState,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    OutgoingEmail,
    Service,
    Tax,
    TeamConfig,
    Ticket,
)
from tests.postgres import PostgresServer

#: Every schema version a migration brings a database to, oldest first.
VERSIONS = tuple(m.version for m in MIGRATIONS)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes new, empty databases of one kind: SQLite files or PostgreSQL databases."""
    if request.param == "sqlite":
        names = itertools.count(1)
        return lambda: str(tmp_path / f"migrations-{next(names)}.db")
    server: PostgresServer = request.getfixturevalue("aftersales_postgres")
    return server.create_database


@pytest.fixture
def url(new_url: Callable[[], str]) -> str:
    return new_url()


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    db = Database(url)
    yield db
    db.dispose()


def _versions(db: Database) -> list[tuple[int, str]]:
    table = build_metadata(1).tables["schema_version"]
    with db.connection(writes=False) as conn:
        rows = conn.execute(
            sa.select(table.c.version, table.c.description).order_by(table.c.version)
        )
        return [(row.version, row.description) for row in rows]


def _shape(db: Database) -> dict[str, object]:
    """Tables, columns, indexes and unique constraints as the database reports them."""
    inspector = sa.inspect(db.engine)
    shape: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = (
            sorted(c["name"] for c in inspector.get_columns(table)),
            sorted(
                (tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        )
    return shape


def test_upgrade_from_an_empty_database(database: Database) -> None:
    assert upgrade(database) == (0, SCHEMA_VERSION)
    assert _versions(database) == [(m.version, m.description) for m in MIGRATIONS]
    with database.connection(writes=False) as conn:
        assert current_version(conn) == SCHEMA_VERSION
    assert set(sa.inspect(database.engine).get_table_names()) == set(metadata.tables)


def test_upgrade_from_version_1_keeps_the_data(url: str, database: Database) -> None:
    assert upgrade(database, target=1) == (0, 1)
    assert "outbox" not in sa.inspect(database.engine).get_table_names()
    old = build_metadata(1).tables
    with database.connection() as conn:
        conn.execute(old["modules"].insert(), [{"name": "base"}, {"name": "helpdesk"}])
        conn.execute(
            old["teams"]
            .insert()
            .values(
                id="team-1", name="Support", services=["refunds"], member_ids=[], members_only=False
            )
        )
    database.dispose()

    backend = SqlBackend(url)
    try:
        app = AfterSales(backend)
        assert _versions(backend.db)[-1][0] == SCHEMA_VERSION
        assert app.hooks.get_team("team-1").services == {"refunds"}
        assert app.hooks.modules_installed() == {"base", "helpdesk"}
        email = OutgoingEmail(
            id="mail-1",
            recipients=("ana@example.com",),
            subject="Hi",
            text_body="Hi",
            html_body="<p>Hi</p>",
            created_at=datetime(2026, 11, 28, tzinfo=UTC),
        )
        app.runtime.write(lambda _uow: app.hooks.mail_enqueue(email))
        assert [e.state for e in app.hooks.mail_list_outbox(pending_only=True)] == [
            EmailState.PENDING
        ]
    finally:
        backend.close()


def _credit_note(**changes: Any) -> Invoice:
    """A draft credit note of 2 × 49.95 + 21 % scheduled for a later date (RF-6)."""
    line = InvoiceLine(
        description="Blender",
        quantity=Decimal(2),
        unit_price=Money.of("49.95", "EUR"),
        taxes=(Tax(name="21%", percent=Decimal(21)),),
        product_id="product-1",
    )
    note = Invoice(
        id="cn-1",
        kind=InvoiceKind.CREDIT_NOTE,
        customer_id="partner-1",
        currency="EUR",
        lines=(line,),
        state=InvoiceState.DRAFT,
        created_at=datetime(2026, 11, 28, 9, tzinfo=UTC),
        invoice_date=date(2026, 12, 5),
        post_on=date(2026, 12, 5),
        reversed_invoice_id="inv-1",
        ticket_id="ticket-1",
        reason="Ticket #7",
    )
    return attrs.evolve(note, **changes)


def test_upgrade_from_version_2_keeps_credit_notes_and_adds_their_method(
    url: str, database: Database
) -> None:
    """Version 3 adds ``invoices.credit_method``: credit notes stored by version 2 read
    back unchanged with no method (they reconcile as PARTIAL, as version 2 did); new ones
    keep theirs."""
    assert upgrade(database, target=2) == (0, 2)
    old = build_metadata(2).tables
    assert "credit_method" not in old["invoices"].c
    note = _credit_note()
    row = {
        k: v
        for k, v in mapping.invoice_row(note).items()
        if k not in ("credit_method", "operation_ref")
    }
    with database.connection() as conn:
        conn.execute(old["invoices"].insert().values(**row))
        conn.execute(old["invoice_lines"].insert(), mapping.invoice_line_rows(note))
    database.dispose()

    backend = SqlBackend(url)
    try:
        assert _versions(backend.db)[2] == (3, MIGRATIONS[2].description)
        hooks = AfterSales(backend).hooks
        assert hooks.get_invoice("cn-1") == note
        assert note.credit_method is None
        full = _credit_note(id="cn-2", credit_method=CreditMethod.FULL)
        backend.ledger.save_invoice(full)
        assert hooks.get_invoice("cn-2") == full
        assert [n.credit_method for n in backend.ledger.credit_notes(["inv-1"])] == [
            None,
            CreditMethod.FULL,
        ]
    finally:
        backend.close()


def test_upgrade_from_version_6_finds_documents_by_operation_reference(
    url: str, database: Database
) -> None:
    """Version 7 adds ``invoices.operation_ref`` with an index: documents stored before
    have none (no operation of the library is known to have made them)."""
    assert upgrade(database, target=6) == (0, 6)
    old = build_metadata(6).tables
    assert "operation_ref" not in old["invoices"].c
    note = _credit_note()
    row = {k: v for k, v in mapping.invoice_row(note).items() if k != "operation_ref"}
    with database.connection() as conn:
        conn.execute(old["invoices"].insert().values(**row))
        conn.execute(old["invoice_lines"].insert(), mapping.invoice_line_rows(note))
    database.dispose()

    backend = SqlBackend(url)
    try:
        assert _versions(backend.db)[6] == (7, MIGRATIONS[6].description)
        with backend.db.connection(writes=False) as conn:
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("invoices")}
        assert "ix_invoices_operation_ref" in indexes
        assert backend.ledger.get_invoice("cn-1", False) == note
        made = _credit_note(id="cn-2", operation_ref="op-1")
        backend.ledger.save_invoice(made)
        assert backend.ledger.find_by_reference("op-1") == [made]
        assert backend.ledger.find_by_reference("op-none") == []
    finally:
        backend.close()


def test_every_migration_step_is_one_version(url: str, database: Database) -> None:
    """Stepping one version at a time passes through every version in order."""
    before = 0
    for version in VERSIONS:
        assert upgrade(database, target=version) == (before, version)
        before = version
    assert [v for v, _ in _versions(database)] == list(VERSIONS)


def test_a_migrated_database_has_exactly_the_current_schema(
    database: Database, new_url: Callable[[], str]
) -> None:
    """Upgrading step by step gives the same tables, columns and indexes as the metadata."""
    upgrade(database)
    reference = Database(new_url())
    try:
        with reference.connection() as conn:
            metadata.create_all(conn)
        assert _shape(database) == _shape(reference)
    finally:
        reference.dispose()


def test_reopening_runs_no_migration(url: str) -> None:
    SqlBackend(url).close()
    backend = SqlBackend(url)
    try:
        before = _versions(backend.db)
        assert upgrade(backend.db) == (SCHEMA_VERSION, SCHEMA_VERSION)
        assert _versions(backend.db) == before
    finally:
        backend.close()


def test_a_database_newer_than_the_code_is_refused(url: str) -> None:
    SqlBackend(url).close()
    db = Database(url)
    table = build_metadata(1).tables["schema_version"]
    with db.connection() as conn:
        conn.execute(
            table.insert().values(
                version=SCHEMA_VERSION + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    db.dispose()
    with pytest.raises(ConfigurationError, match="newer than this aftersales"):
        SqlBackend(url)


def test_without_migrate_an_old_database_is_refused(database: Database, url: str) -> None:
    upgrade(database, target=1)
    database.dispose()
    with pytest.raises(ConfigurationError, match=f"at schema version 1.*needs {SCHEMA_VERSION}"):
        SqlBackend(url, migrate=False)
    SqlBackend(url).close()
    SqlBackend(url, migrate=False).close()


def test_a_new_database_is_seeded_once(url: str) -> None:
    backend = SqlBackend(url, installed_modules=("base", "mail", "helpdesk", "account"))
    backend.aftersales_modules_uninstall("account")
    backend.close()
    backend = SqlBackend(url, installed_modules=("base", "mail", "helpdesk", "account"))
    try:
        assert backend.aftersales_modules_installed() == {"base", "mail", "helpdesk"}
    finally:
        backend.close()


# -- seeding: every database ends with its base modules ---------------

SEEDED = {"base", "mail", "helpdesk"}


def _modules(db: Database) -> set[str]:
    table = build_metadata(1).tables["modules"]
    with db.connection(writes=False) as conn:
        return set(conn.execute(sa.select(table.c.name)).scalars())


def _plans_only_the_refunds_module(backend: SqlBackend) -> None:
    """The install plan of a seeded database lists no base module, counts no helpdesk."""
    from aftersales import Actor, Group, Service

    team = backend.builder().team(name="Support")
    manager = Actor(user_id="maria", groups={Group.HELPDESK_MANAGER})
    plan = AfterSales(backend).settings.plan(team.id, enable={Service.REFUNDS}, actor=manager)
    assert not {"base", "mail", "helpdesk"} & set(plan.modules)
    assert "helpdesk" not in plan.applications


def test_a_database_made_by_db_upgrade_opens_seeded_without_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented deployment path: ``aftersales db upgrade``, then ``migrate=False``."""
    from aftersales.cli import main

    path = tmp_path / "deployed.db"
    assert main(["db", "upgrade", str(path)]) == 0
    capsys.readouterr()
    database = Database(path)
    try:
        assert _modules(database) == SEEDED
    finally:
        database.dispose()
    backend = SqlBackend(path, migrate=False)
    try:
        assert backend.aftersales_modules_installed() == SEEDED
        _plans_only_the_refunds_module(backend)
    finally:
        backend.close()


def test_upgrade_seeds_in_the_transaction_of_the_last_step(database: Database) -> None:
    assert upgrade(database, target=VERSIONS[-2]) == (0, VERSIONS[-2])
    assert _modules(database) == set()
    assert upgrade(database) == (VERSIONS[-2], SCHEMA_VERSION)
    assert _modules(database) == SEEDED


@pytest.mark.parametrize("step", VERSIONS[:-1])
def test_a_first_open_interrupted_after_a_step_ends_seeded(
    url: str, database: Database, step: int
) -> None:
    """A first open killed after schema step ``step`` (the steps commit one by one), then
    opened again: the upgrade finishes and the database has its modules."""
    assert upgrade(database, target=step) == (0, step)
    assert _modules(database) == set()
    database.dispose()
    backend = SqlBackend(url)
    try:
        assert backend.aftersales_modules_installed() == SEEDED
        _plans_only_the_refunds_module(backend)
    finally:
        backend.close()


@pytest.mark.parametrize("migrate", [True, False])
def test_a_current_database_without_modules_is_seeded_on_open(
    url: str, database: Database, migrate: bool
) -> None:
    """A database left at the current version with no modules (a first open by an earlier
    aftersales, killed between its last step and its seeding) is seeded by the next open."""
    upgrade(database)
    with database.connection() as conn:
        conn.execute(build_metadata(1).tables["modules"].delete())
    database.dispose()
    backend = SqlBackend(url, migrate=migrate)
    try:
        assert backend.aftersales_modules_installed() == SEEDED
    finally:
        backend.close()


def test_a_seeded_database_keeps_an_uninstalled_helpdesk(url: str) -> None:
    backend = SqlBackend(url)
    backend.aftersales_modules_uninstall("helpdesk")
    backend.close()
    for migrate in (True, False):
        backend = SqlBackend(url, migrate=migrate)
        try:
            assert backend.aftersales_modules_installed() == {"base", "mail"}
        finally:
            backend.close()


def test_seeding_always_includes_the_base_modules(url: str) -> None:
    backend = SqlBackend(url, installed_modules=("helpdesk", "loyalty"))
    try:
        assert backend.aftersales_modules_installed() == {"base", "mail", "helpdesk", "loyalty"}
    finally:
        backend.close()


def test_the_command_line_upgrades_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aftersales.cli import main

    path = tmp_path / "cli.db"
    assert main(["db", "version", str(path)]) == 1  # reading creates nothing
    assert capsys.readouterr().err == f"error: no database at {path}\n"
    assert not path.exists()
    assert main(["db", "upgrade", str(path)]) == 0
    assert f"schema version {SCHEMA_VERSION} (upgraded from 0)" in capsys.readouterr().out
    assert main(["db", "upgrade", str(path)]) == 0
    assert "(already current)" in capsys.readouterr().out
    assert main(["db", "version", str(path)]) == 0
    assert f"schema version {SCHEMA_VERSION} (current)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["db", "version", "mysql://x@y/z"])
    assert info.value.code == 2  # a usage error
    assert "unsupported database" in capsys.readouterr().err


def test_upgrade_from_version_3_indexes_ticket_numbers(url: str, database: Database) -> None:
    """Version 4 adds an index on ``tickets.ref``; tickets stored before are found by number."""
    assert upgrade(database, target=3) == (0, 3)
    ticket = Ticket(
        id="ticket-7",
        ref="7",
        title="Blender broken",
        team_id="team-1",
        created_at=datetime(2026, 11, 28, 9, tzinfo=UTC),
    )
    with database.connection() as conn:
        conn.execute(
            build_metadata(3).tables["tickets"].insert().values(**mapping.ticket_row(ticket))
        )
    database.dispose()
    backend = SqlBackend(url)
    try:
        assert _versions(backend.db)[3] == (4, MIGRATIONS[3].description)
        assert AfterSales(backend).hooks.find_ticket("7") == ticket
    finally:
        backend.close()


def test_upgrade_from_version_5_keeps_the_outbox(url: str, database: Database) -> None:
    """Version 6 adds the accepted and refused recipients and the claim of an email; an
    email queued before reads back with none of them, and is still retried."""
    assert upgrade(database, target=5) == (0, 5)
    email = OutgoingEmail(
        id="mail-5",
        recipients=("ana@example.com",),
        subject="Hi",
        text_body="Hi",
        html_body="<p>Hi</p>",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
        state=EmailState.FAILED,
        attempts=2,
        last_error="BackendUnavailable: SMTP down",
    )
    old = {
        k: v
        for k, v in mapping.email_row(email).items()
        if k in build_metadata(5).tables["outbox"].c
    }
    with database.connection() as conn:
        conn.execute(build_metadata(5).tables["outbox"].insert().values(**old))
    database.dispose()
    backend = SqlBackend(url)
    try:
        assert _versions(backend.db)[5] == (6, MIGRATIONS[5].description)
        app = AfterSales(backend)
        assert app.hooks.mail_list_outbox(pending_only=True) == [email]
        (sent,) = app.outbox.retry(actor=Actor.system())
        assert (sent.state, sent.attempts, sent.accepted) == (
            EmailState.SENT,
            3,
            ("ana@example.com",),
        )
    finally:
        backend.close()


def test_upgrade_from_version_7_moves_team_settings_to_the_store(
    url: str, database: Database
) -> None:
    """Version 8 moves a team's toggles and FSM project from the helpdesk's teams to the
    library's team_settings: a team that had services on keeps them."""
    assert upgrade(database, target=7) == (0, 7)
    teams = build_metadata(7).tables["teams"]
    with database.connection() as conn:
        conn.execute(
            teams.insert(),
            [
                {
                    "id": "team-on",
                    "name": "Support",
                    "services": ["refunds", "returns"],
                    "fsm_project_id": "proj-1",
                    "member_ids": [],
                    "members_only": False,
                },
                {
                    "id": "team-off",
                    "name": "Sales",
                    "services": [],
                    "fsm_project_id": None,
                    "member_ids": ["u-1"],
                    "members_only": True,
                },
            ],
        )
    database.dispose()
    backend = SqlBackend(url)
    try:
        assert _versions(backend.db)[7] == (8, MIGRATIONS[7].description)
        assert "services" not in {
            c["name"] for c in sa.inspect(backend.db.engine).get_columns("teams")
        }
        app = AfterSales(backend)
        on = app.hooks.get_team("team-on")
        assert on.services == frozenset({Service.REFUNDS, Service.RETURNS})
        assert on.fsm_project_id == "proj-1"
        assert backend.aftersales_helpdesk_get_team("team-on") == attrs.evolve(
            on, services=frozenset(), fsm_project_id=None
        )
        off = app.hooks.get_team("team-off")
        assert (off.services, off.member_ids, off.members_only) == (
            frozenset(),
            frozenset({"u-1"}),
            True,
        )
        assert app.hooks.team_config("team-on") == TeamConfig(
            team_id="team-on",
            services=frozenset({Service.REFUNDS, Service.RETURNS}),
            fsm_project_id="proj-1",
        )
    finally:
        backend.close()
