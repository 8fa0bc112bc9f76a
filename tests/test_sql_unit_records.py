"""The SQL backend's unit of work reads each record once: what it read is kept by table
and key until it ends, forgotten when its table is written or on any rollback; a locked
read on PostgreSQL is still sent when the kept record was read unlocked. A new invoice is
inserted without deleting lines it cannot have."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.sql import SqlBackend
from aftersales.models import Invoice, Partner, TeamConfig
from aftersales.testing import build_scenario
from tests.postgres import PostgresServer

START = "2026-11-28T09:00:00+00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlBackend]:
    if request.param == "sqlite":
        url = str(tmp_path / "records.db")
    else:
        server: PostgresServer = request.getfixturevalue("aftersales_postgres")
        url = server.create_database()
    backend = SqlBackend(url)
    yield backend
    backend.close()


@pytest.fixture
def sent(sql: SqlBackend) -> Iterator[list[str]]:
    """The SQL text of every statement sent while the test runs."""
    texts: list[str] = []
    sql.db.tracer = lambda text, _params, _many: texts.append(" ".join(text.split()))
    yield texts
    sql.db.tracer = None


def _reads(sent: list[str], table: str) -> list[str]:
    return [text for text in sent if text.startswith("SELECT") and f" FROM {table} " in text]


def test_a_full_refund_reads_each_record_once(sql: SqlBackend, sent: list[str]) -> None:
    app = AfterSales(sql, clock=FrozenClock(START))
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    sent.clear()
    result = app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL,
        actor=scenario.actors.agent,
    )
    assert result.invoice.id == scenario.invoice.id
    (ticket,) = _reads(sent, "tickets")  # with its team, the team's settings, its customer
    assert "LEFT OUTER JOIN partners" in ticket
    assert not _reads(sent, "partners")  # the customer, checked twice, is read with it
    by_id = [text for text in _reads(sent, "invoices") if "invoices.id =" in text]
    assert len(by_id) == 1
    assert "LEFT OUTER JOIN invoice_lines" in by_id[0]  # with its lines
    assert not _reads(sent, "invoice_lines")
    assert not _reads(sent, "teams") + _reads(sent, "team_settings")
    assert not [text for text in sent if text.startswith("DELETE")]


def test_a_write_to_a_table_makes_the_unit_read_its_records_again(sql: SqlBackend) -> None:
    partner = Partner(id="p1", name="Ana", commercial_entity_id="p1")
    sql.put(partner)
    tx = sql.db.begin(writes=True)
    try:
        assert sql.aftersales_helpdesk_get_partner("p1") == partner
        assert sql.aftersales_helpdesk_get_partner("p2") is None
        renamed = attrs.evolve(partner, name="Ana Lima")
        other = Partner(id="p2", name="Bo", commercial_entity_id="p2")
        sql.put_many([renamed, other])
        assert sql.aftersales_helpdesk_get_partner("p1") == renamed
        assert sql.aftersales_helpdesk_get_partner("p2") == other
        tx.commit()
    except BaseException:
        tx.rollback()
        raise


def test_a_rolled_back_savepoint_forgets_what_the_unit_read(sql: SqlBackend) -> None:
    partner = Partner(id="p1", name="Ana", commercial_entity_id="p1")
    sql.put(partner)
    tx = sql.db.begin(writes=True)
    try:
        savepoint = sql.db.begin(writes=True)
        sql.put(attrs.evolve(partner, name="Ana Lima"))
        assert sql.aftersales_helpdesk_get_partner("p1").name == "Ana Lima"  # type: ignore[union-attr]
        savepoint.rollback()
        assert sql.aftersales_helpdesk_get_partner("p1") == partner
        tx.commit()
    except BaseException:
        tx.rollback()
        raise
    assert sql.aftersales_helpdesk_get_partner("p1") == partner


def test_a_record_is_read_once_per_unit_not_once_for_all(sql: SqlBackend, sent: list[str]) -> None:
    partner = Partner(id="p1", name="Ana", commercial_entity_id="p1")
    sql.put(partner)
    sent.clear()
    for _unit in range(2):
        tx = sql.db.begin(writes=False)
        try:
            assert sql.aftersales_helpdesk_get_partner("p1") == partner
            assert sql.aftersales_helpdesk_get_partner("p1") == partner
        finally:
            tx.rollback()
    assert len(_reads(sent, "partners")) == 2
    sql.put(attrs.evolve(partner, name="Ana Lima"))  # its own unit
    assert sql.aftersales_helpdesk_get_partner("p1").name == "Ana Lima"  # type: ignore[union-attr]


def test_a_locked_read_after_an_unlocked_one_is_sent_on_postgresql_only(
    sql: SqlBackend, sent: list[str]
) -> None:
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    invoice_id = scenario.invoice.id
    tx = sql.db.begin(writes=True)
    try:
        sent.clear()
        unlocked = sql.aftersales_accounting_get_invoice(invoice_id, lock=False)
        locked = sql.aftersales_accounting_get_invoice(invoice_id, lock=True)
        again = sql.aftersales_accounting_get_invoice(invoice_id, lock=True)
        later = sql.aftersales_accounting_get_invoice(invoice_id, lock=False)
        tx.commit()
    except BaseException:
        tx.rollback()
        raise
    assert unlocked == locked == again == later == scenario.invoice
    reads = [text for text in _reads(sent, "invoices") if "invoices.id =" in text]
    if sql.dialect == "postgresql":
        assert len(reads) == 2
        assert "FOR UPDATE" in reads[1]
        assert "FOR UPDATE" not in reads[0]
    else:
        assert len(reads) == 1


def test_a_new_invoice_is_inserted_without_deleting_lines(sql: SqlBackend, sent: list[str]) -> None:
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    new = attrs.evolve(scenario.invoice, id="inv-new", number=None)
    sent.clear()
    sql.ledger.save_invoice(new)
    writes = [text.split(" (")[0] for text in sent if not text.startswith(("BEGIN", "SELECT"))]
    assert writes == ["INSERT INTO invoices", "INSERT INTO invoice_lines"]
    assert sql.aftersales_accounting_get_invoice("inv-new", lock=False) == new


def test_an_invoice_saved_without_being_read_gets_its_lines_replaced(sql: SqlBackend) -> None:
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    assert len(scenario.invoice.lines) > 1
    fewer = attrs.evolve(scenario.invoice, lines=scenario.invoice.lines[:1], note="changed")
    sql.ledger.save_invoice(fewer)  # a unit of its own that never read the invoice
    stored = sql.aftersales_accounting_get_invoice(scenario.invoice.id, lock=False)
    assert isinstance(stored, Invoice)
    assert stored == fewer
    assert stored.lines == scenario.invoice.lines[:1]


def test_settings_saved_after_the_ticket_read_are_read_again(
    sql: SqlBackend, sent: list[str]
) -> None:
    """The team's settings come with the ticket; saving them in the same unit makes the
    next read send its own statement and see what was saved."""
    scenario = build_scenario(sql.builder(FrozenClock(START)))
    ticket = scenario.ticket
    tx = sql.db.begin(writes=True)
    try:
        assert sql.aftersales_helpdesk_get_ticket(ticket.id) == ticket
        sent.clear()
        before = sql.aftersales_store_get_team_config(ticket.team_id)
        assert before is not None
        assert sent == []  # read with the ticket
        emptied = TeamConfig(team_id=ticket.team_id)
        assert emptied != before
        sql.aftersales_store_save_team_config(emptied)
        assert sql.aftersales_store_get_team_config(ticket.team_id) == emptied
        assert len(_reads(sent, "team_settings")) == 1
        tx.rollback()
    except BaseException:
        tx.rollback()
        raise
    assert sql.aftersales_store_get_team_config(ticket.team_id) == before
