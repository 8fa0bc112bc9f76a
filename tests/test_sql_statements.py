"""The SQL backend's statements and bulk loading: statements built once and run through
``Connection.execute`` store and read what SQLAlchemy's own execute does; a taken unique
key is a DuplicateKey without a savepoint; ``put_many`` stores what ``put`` one by one stores."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend, statements
from aftersales.backends.sql import backend as sql_backend
from aftersales.backends.sql.schema import metadata
from aftersales.backends.sql.statements import MAX_IN, Prepared, chunked, padded
from aftersales.builder import Builder
from aftersales.errors import BackendError, DuplicateKey
from aftersales.models import (
    AuditEntry,
    IdempotencyRecord,
    Invoice,
    Partner,
    Picking,
    TicketMessage,
)
from aftersales.models.queries import InvoiceQuery, PickingQuery
from aftersales.testing import build_scenario
from tests.postgres import PostgresServer

START = "2026-11-28T09:00:00+00:00"
AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "statements.db")
    server: PostgresServer = request.getfixturevalue("aftersales_postgres")
    return server.create_database()


@pytest.fixture
def sql(url: str) -> Iterator[SqlBackend]:
    backend = SqlBackend(url)
    yield backend
    backend.close()


# -- prepared statements --------------------------------------------------------------------


def test_padded_fills_an_in_list_to_the_next_power_of_two() -> None:
    assert padded(["a"]) == (1, {"v0": "a"})
    assert padded(["a", "b", "c"]) == (4, {"v0": "a", "v1": "b", "v2": "c", "v3": "c"})
    size, params = padded([str(n) for n in range(9)])
    assert size == 16
    assert params["v15"] == "8"


def test_padded_refuses_what_one_in_list_cannot_take() -> None:
    with pytest.raises(ValueError, match=f"1 to {MAX_IN} values, not 0"):
        padded([])
    assert padded(["a"] * MAX_IN)[0] == MAX_IN
    with pytest.raises(ValueError, match=f"not {MAX_IN + 1}"):
        padded(["a"] * (MAX_IN + 1))


def test_chunked_keeps_order_and_size() -> None:
    values = [f"p{i}" for i in range(2 * MAX_IN + 3)]
    parts = chunked(values)
    assert [len(p) for p in parts] == [MAX_IN, MAX_IN, 3]
    assert list(itertools.chain.from_iterable(parts)) == values
    assert chunked([]) == []


def test_lookups_among_more_ids_than_one_in_list_takes(sql: SqlBackend) -> None:
    """Tens of thousands of customer ids (PostgreSQL takes at most 65,535 parameters a
    statement): the lookups run in chunks and answer as with the real customers alone."""
    world = _builder(sql)
    sc = build_scenario(world)
    customers = [sc.customer.id, sc.colleague.id]
    crowd = frozenset(customers) | {f"nobody-{i}" for i in range(40_000)}
    hooks = AfterSales(sql, clock=FrozenClock(START)).hooks
    assert hooks.find_tickets(crowd) == hooks.find_tickets(frozenset(customers))
    few = InvoiceQuery(customer_ids=frozenset(customers))
    many = InvoiceQuery(customer_ids=crowd)
    assert sql.ledger.find_invoices(many) == sql.ledger.find_invoices(few)
    assert hooks.find_pickings(PickingQuery(partner_ids=crowd)) == hooks.find_pickings(
        PickingQuery(partner_ids=frozenset(customers))
    )


def test_chunks_are_merged_in_the_order_of_one_lookup(
    sql: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one id per IN list, every lookup runs in chunks: same answers, same order."""
    world = _builder(sql)
    sc = build_scenario(world)
    for _ in range(3):
        world.invoice(customer=sc.colleague, lines=[(sc.kettle, 1)])
        world.ticket(team=sc.team, title="Again", customer=sc.colleague)
    hooks = AfterSales(sql, clock=FrozenClock(START)).hooks
    people = frozenset({sc.customer.id, sc.colleague.id})

    def answers() -> tuple[object, ...]:
        return (
            hooks.find_tickets(people),
            sql.ledger.find_invoices(InvoiceQuery(customer_ids=people)),
            hooks.find_pickings(PickingQuery(partner_ids=people)),
        )

    whole = answers()
    monkeypatch.setattr(statements, "MAX_IN", 1)
    monkeypatch.setattr(sql_backend, "MAX_IN", 1)
    assert answers() == whole
    assert all(whole)


def test_a_prepared_statement_converts_values_both_ways_as_sqlalchemy_does(
    sql: SqlBackend,
) -> None:
    """Exact decimals, times with their offset, dates, booleans and JSON written through
    a prepared statement read back equal through SQLAlchemy's own execute, and the other
    way round."""
    programs = metadata.tables["programs"]
    dialect = sql.db.engine.dialect
    columns = (
        *("id", "name", "currency", "rewards", "rules", "active", "program_type"),
        *("trigger", "date_to", "max_usage", "code"),
    )
    row = {
        "id": "p1",
        "name": "Ten",
        "currency": "EUR",
        "rewards": [{"percent": "10.50"}],
        "rules": [],
        "active": True,
        "program_type": "coupons",
        "trigger": "code",
        "date_to": date(2027, 1, 31),
        "max_usage": 3,
        "code": None,
    }
    insert = Prepared(
        programs.insert().inline().values({c: sa.bindparam(c) for c in columns}), dialect
    )
    select = Prepared(sa.select(programs).where(programs.c.id == sa.bindparam("id")), dialect)
    with sql.db.connection() as conn:
        assert insert.run(conn, row) == 1
        mine = select.first(conn, {"id": "p1"})
        theirs = conn.execute(sa.select(programs).where(programs.c.id == "p1")).mappings().one()
    assert mine is not None
    assert mine == dict(theirs)
    assert {k: mine[k] for k in columns} == row

    coupons = metadata.tables["coupons"]
    moment = datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-3)))
    with sql.db.connection() as conn:
        conn.execute(
            coupons.insert().values(
                id="c1",
                code="ABC",
                program_id="p1",
                partner_id="x",
                points=Decimal("1.50"),
                created_at=moment,
            )
        )
        read = Prepared(
            sa.select(coupons).where(coupons.c.code == sa.bindparam("code")), dialect
        ).first(conn, {"code": "ABC"})
    assert read is not None
    assert str(read["points"]) == "1.50"
    assert read["created_at"] == moment
    assert read["created_at"].utcoffset() == timedelta(hours=-3)


def test_a_driver_error_from_a_prepared_statement_is_a_library_error(sql: SqlBackend) -> None:
    teams = metadata.tables["teams"]
    insert = Prepared(
        teams.insert().values(id=sa.bindparam("id"), name=sa.bindparam("name")),
        sql.db.engine.dialect,
    )
    with pytest.raises(BackendError, match="refused a write") as caught:
        with sql.db.connection() as conn:
            insert.run(conn, {"id": "t1", "name": "Support"})  # member_ids, members_only: NOT NULL
    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)


def test_a_value_its_column_cannot_take_is_a_library_error(sql: SqlBackend) -> None:
    """A value the column's type refuses (not a date for a date column: SQLAlchemy's
    processor refuses it on SQLite, psycopg on PostgreSQL) is a ``BackendError``, not a
    bare ``TypeError``."""
    invoices = metadata.tables["invoices"]
    select = Prepared(
        sa.select(invoices.c.id).where(invoices.c.invoice_date == sa.bindparam("day")),
        sql.db.engine.dialect,
    )
    with pytest.raises(BackendError, match="database error") as caught:
        with sql.db.connection(writes=False) as conn:
            select.rows(conn, {"day": object()})
    assert isinstance(caught.value.__cause__, sa.exc.StatementError)


def test_an_interrupted_statement_drops_its_connection(sql: SqlBackend) -> None:
    """Stopped in the middle of a statement, the connection cannot be trusted: it is
    invalidated, its unit cannot commit, and the next unit gets a fresh connection."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    teams = Prepared(sa.select(metadata.tables["teams"]), sql.db.engine.dialect)
    dialect = sql.db.engine.dialect
    with pytest.raises(BackendError), sql.db.connection() as conn:
        # `do_execute` stands for the driver's own execute: interrupted inside it
        sa.event.listen(dialect, "do_execute", interrupted)
        try:
            with pytest.raises(KeyboardInterrupt):
                teams.rows(conn)
        finally:
            sa.event.remove(dialect, "do_execute", interrupted)
        assert conn.invalidated
    assert sql.aftersales_helpdesk_list_teams() == []


def test_inserts_return_nothing_they_were_not_asked_for(sql: SqlBackend) -> None:
    """Only the sequence asks for a row back (``RETURNING``): PostgreSQL's implicit
    ``RETURNING`` of the row counter is off, so a taken key is told by the row count alone."""
    sent: list[str] = []
    sql.db.tracer = lambda text, _params, _many: sent.append(text)
    build_scenario(sql.builder(FrozenClock(START)))
    inserts = [text for text in sent if text.startswith("INSERT")]
    assert inserts
    assert {text.split()[2] for text in inserts if "RETURNING" in text} == {"sequences"}


def test_statements_are_built_once(sql: SqlBackend) -> None:
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    sql.aftersales_accounting_get_invoice(scenario.invoice.id, lock=False)
    built = len(sql._statements)
    for _ in range(3):
        sql.aftersales_accounting_get_invoice(scenario.invoice.id, lock=False)
        sql.aftersales_helpdesk_get_ticket(scenario.ticket.id)
        sql.aftersales_helpdesk_get_ticket(scenario.ticket.id)
    assert len(sql._statements) == built + 1  # the ticket lookup, once


# -- a taken unique key: DuplicateKey, no savepoint, the transaction goes on ------------------


def test_a_taken_key_is_a_duplicate_and_the_unit_goes_on(sql: SqlBackend) -> None:
    """RL-2, CP-5: the insert changes nothing and says so; on PostgreSQL the transaction
    is not aborted (no failed statement), so the unit commits what else it did."""
    app = AfterSales(sql, clock=FrozenClock(START))
    message = TicketMessage(id="m1", ticket_id="t1", at=AT, author_id="agent", body="Hello")
    entry = AuditEntry(id="a1", at=AT, actor_id="agent", action="refund", ticket_id="t1")
    record = IdempotencyRecord(
        actor_id="agent", key="k1", operation="refunds.reverse", fingerprint="f", created_at=AT
    )
    sent: list[str] = []
    sql.db.tracer = lambda text, _params, _many: sent.append(text)
    try:
        with app.runtime.unit(writes=True) as uow:
            app.hooks.post_message(message)
            app.hooks.audit_append(entry)
            assert app.hooks.idempotency_claim(record) == record
            for call, what in (
                (lambda: app.hooks.post_message(attrs.evolve(message, body="Again")), "m1"),
                (lambda: app.hooks.audit_append(entry), "a1"),
            ):
                with pytest.raises(DuplicateKey, match=what):
                    call()
            assert app.hooks.idempotency_claim(record) == record  # taken: the stored one
            assert sql.ledger.next_number("after-duplicates") == 1
            uow.commit()
    finally:
        sql.db.tracer = None
    assert sent
    assert not any("SAVEPOINT" in text for text in sent)
    assert [m.body for m in app.hooks.list_messages("t1")] == ["Hello"]
    assert sql.ledger.next_number("after-duplicates") == 2


def test_a_taken_coupon_code_or_id_is_named(sql: SqlBackend) -> None:
    builder = sql.builder(FrozenClock(START))
    program = builder.coupon_program(name="Ten")
    from aftersales.models import Coupon

    coupon = Coupon(
        id="c1",
        code="CODE1",
        program_id=program.id,
        partner_id="p",
        points=Decimal(1),
        created_at=AT,
    )
    sql.coupons.insert_coupon(coupon)
    with pytest.raises(DuplicateKey, match="coupon code"):
        sql.coupons.insert_coupon(attrs.evolve(coupon, id="c2"))
    with pytest.raises(DuplicateKey, match="coupon id"):
        sql.coupons.insert_coupon(attrs.evolve(coupon, code="CODE2"))


# -- bulk loading ---------------------------------------------------------------------------


def _records() -> list[object]:
    """A mix of builder records, made in a throw-away store; one invoice and one partner
    come twice (the second version wins)."""
    scenario = build_scenario(MemoryBackend().builder(FrozenClock(START)))
    base = scenario.invoice
    first = attrs.evolve(base, id="inv-bulk", lines=base.lines[:1], number="INV/BULK")
    second = attrs.evolve(base, id="inv-bulk", number="INV/BULK", reference="second")
    partners = [
        Partner(id=f"bulk-{n}", name=f"Customer {n}", commercial_entity_id=f"bulk-{n}")
        for n in range(5)
    ]
    renamed = attrs.evolve(partners[0], name="Renamed")
    return [
        scenario.team,
        scenario.blender,
        *partners,
        first,
        scenario.delivery,
        scenario.invoice,
        second,
        renamed,
    ]


def _builder(backend: Any) -> Builder:
    made: Builder = backend.builder(FrozenClock(START))
    return made


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_put_many_stores_what_put_one_by_one_stores(tmp_path: Path, kind: str) -> None:
    def new(name: str) -> Any:
        return SqlBackend(tmp_path / f"{name}.db") if kind == "sqlite" else MemoryBackend()

    records = _records()
    one, many = new("one"), new("many")
    try:
        for record in records:
            _builder(one).put(record)
        _builder(many).put_many(iter(records))
        assert many.snapshot() == one.snapshot()
        hooks = AfterSales(many).hooks
        invoice = hooks.get_invoice("inv-bulk", lock=False)
        assert isinstance(invoice, Invoice)
        assert invoice.reference == "second"
        assert len(invoice.lines) == 2
        partner = hooks.get_partner("bulk-0")
        assert partner is not None
        assert partner.name == "Renamed"
        delivery = records[8]
        assert isinstance(delivery, Picking)
        assert hooks.get_picking(delivery.id, lock=False) == delivery
    finally:
        for backend in (one, many):
            if isinstance(backend, SqlBackend):
                backend.close()


def test_put_many_on_sql_is_one_executemany_per_table(sql: SqlBackend) -> None:
    builder = sql.builder(FrozenClock(START))
    scenario = build_scenario(builder)
    invoices = [attrs.evolve(scenario.invoice, id=f"inv-{n}", number=f"INV/{n}") for n in range(50)]
    pickings = [
        attrs.evolve(scenario.delivery, id=f"pick-{n}", reference=f"OUT/{n}") for n in range(50)
    ]
    sent: list[tuple[str, bool]] = []
    sql.db.tracer = lambda text, _params, many: sent.append((text.split("(")[0], many))
    try:
        builder.put_many(itertools.chain(invoices, pickings))
    finally:
        sql.db.tracer = None
    writes = [(text, many) for text, many in sent if not text.startswith("BEGIN")]
    assert len(writes) == 6  # invoices, their lines (delete, insert), pickings, moves (same)
    assert all(many for _text, many in writes)
    stored = sql.aftersales_accounting_get_invoice("inv-49", lock=False)
    assert isinstance(stored, Invoice)
    assert stored.lines == scenario.invoice.lines


def test_put_many_refuses_a_record_it_cannot_store_before_writing(sql: SqlBackend) -> None:
    partner = Partner(id="p1", name="Ana", commercial_entity_id="p1")
    message = TicketMessage(id="m1", ticket_id="t1", at=AT, author_id="agent", body="Hi")
    with pytest.raises(TypeError, match="TicketMessage"):
        sql.builder().put_many([partner, message])
    assert sql.aftersales_helpdesk_get_partner("p1") is None


# -- fewer statements: unchanged children are left as they are --------------------------------


def test_a_full_refund_leaves_the_unchanged_lines_of_the_invoice_alone(sql: SqlBackend) -> None:
    """The refunded invoice is saved again (paid by the credit note) with the lines it was
    read with (locked): only the new credit note's lines are written, inserted with it (a
    new invoice has no lines to delete)."""
    from aftersales import CreditMethod

    app = AfterSales(sql, clock=FrozenClock(START))
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    sent: list[str] = []
    sql.db.tracer = lambda text, _params, _many: sent.append(text)
    try:
        result = app.refunds.reverse(
            scenario.ticket.id,
            scenario.invoice.id,
            method=CreditMethod.FULL,
            actor=scenario.actors.agent,
        )
    finally:
        sql.db.tracer = None
    assert result.credit_note.lines
    written = [
        text.split()[0]
        for text in sent
        if text.startswith(("DELETE FROM invoice_lines", "INSERT INTO invoice_lines"))
    ]
    assert written == ["INSERT"]  # the credit note's, once
    stored = sql.aftersales_accounting_get_invoice(scenario.invoice.id, lock=False)
    assert isinstance(stored, Invoice)
    assert stored.lines == scenario.invoice.lines


def test_children_written_in_a_rolled_back_savepoint_are_written_again(sql: SqlBackend) -> None:
    """A savepoint rolled back takes its rows with it: the unit forgets what it wrote, so
    saving the same change again writes it."""
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    where = {"id": scenario.invoice.id}
    changed = attrs.evolve(scenario.invoice, lines=scenario.invoice.lines[:1])
    tx = sql.db.begin(writes=True)
    try:
        (read,) = sql._invoices(
            "id", lambda: sql_backend.INVOICES.c.id == sa.bindparam("id"), where, lock=True
        )
        savepoint = sql.db.begin(writes=True)
        with sql.db.connection() as conn:
            sql._save_invoices(conn, (changed,))
        savepoint.rollback()
        with sql.db.connection() as conn:
            sql._save_invoices(conn, (changed,))
        tx.commit()
    except BaseException:
        tx.rollback()
        raise
    assert read.lines == scenario.invoice.lines
    stored = sql.aftersales_accounting_get_invoice(scenario.invoice.id, lock=False)
    assert isinstance(stored, Invoice)
    assert stored.lines == changed.lines
