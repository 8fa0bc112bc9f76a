"""Embedding without copying: a host serves the helpdesk port from its own SQLAlchemy
tables, and the SQL backend is the ERP (its existing invoices and programs imported by
their external ids) and the after-sales store (docs/embedding.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aftersales import AfterSales, CreditMethod, FrozenClock, Service
from aftersales.backends.sql import SqlBackend
from aftersales.errors import NotFound
from aftersales.models import DocumentKind, InvoiceLine, InvoiceState, Reward, RewardKind
from aftersales.models.imports import InvoiceImport, ProgramImport
from aftersales.testing.scenario import AGENT, MANAGER, SYSTEM

from .embedding_host import Base, HostCustomer, HostHelpdesk, HostTeam, HostTicket

START = "2026-11-28T09:00:00+00:00"


@pytest.fixture
def host_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """The host application's own database: teams, customers and tickets, integer ids."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(
            [
                HostTeam(id=1, name="Support"),
                HostCustomer(id=7, name="Ana Pérez", email="ana@example.com"),
                HostCustomer(id=8, name="Luis Pérez", email="luis@example.com", company_id=7),
                HostTicket(
                    id=42,
                    subject="Blender broken",
                    team_id=1,
                    customer_id=8,
                    opened_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
                ),
            ]
        )
        session.commit()
    yield engine
    engine.dispose()


def _host_rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for table in ("teams", "customers", "tickets")
            for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))
        ]


def test_refunds_and_coupons_from_a_ticket_of_the_hosts_tables(
    host_engine: sa.Engine, tmp_path: Path
) -> None:
    backend = SqlBackend(tmp_path / "aftersales.db")
    try:
        blender = backend.builder(FrozenClock(START)).product(
            name="Blender", price=Decimal("49.95"), taxes=("21%",)
        )
        host_before = _host_rows(host_engine)

        app = AfterSales(backend, clock=FrozenClock(START), plugins=[HostHelpdesk(host_engine)])
        assert app.ports()["helpdesk"] == "host-helpdesk"
        assert {owner for port, owner in app.ports().items() if port != "helpdesk"} == {"sql"}

        # what the host already has, imported by its own ids: an invoice of its customer 7
        line = InvoiceLine(
            description="Blender",
            quantity=Decimal(2),
            unit_price=blender.price,
            taxes=blender.taxes,
            product_id=blender.id,
        )
        host_invoice = InvoiceImport(
            external_id="1001",
            customer_id="7",
            number="F-2026-1001",
            invoice_date=date(2026, 11, 20),
            currency="EUR",
            lines=[line],
        )
        (loaded,) = app.imports.invoices([host_invoice], actor=SYSTEM)
        invoice = loaded.record
        assert (loaded.created, invoice.customer_id, invoice.number) == (True, "7", "F-2026-1001")
        assert app.imports.invoices([host_invoice], actor=SYSTEM) == (
            attrs.evolve(loaded, created=False),
        )
        (imported,) = app.imports.programs(
            [
                ProgramImport(
                    external_id="sorry-10",
                    name="Sorry 10%",
                    currency="EUR",
                    rewards=[Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10))],
                )
            ],
            actor=SYSTEM,
        )
        program = imported.record

        app.settings.configure("1", enable={Service.REFUNDS, Service.COUPONS}, actor=MANAGER)
        ticket = app.tickets.find("#42", actor=AGENT)
        assert (ticket.id, ticket.customer_id) == ("42", "8")

        # invoices of the customer's company (the host says 8 belongs to 7)
        offered = app.refunds.invoices_to_refund(ticket.id, actor=AGENT)
        assert [i.id for i in offered] == [invoice.id]
        result = app.refunds.reverse(
            ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT, idempotency_key="r-1"
        )
        assert result.credit_note.state is InvoiceState.POSTED

        coupon = app.coupons.generate(ticket.id, program.id, actor=AGENT)
        sent = app.coupons.send(ticket.id, coupon.id, actor=AGENT)
        assert "luis@example.com" in sent.recipients

        view = app.tickets.view(ticket.id, actor=AGENT)
        assert (view.counts.credit_notes, view.counts.coupons) == (1, 1)
        kinds = {link.kind for link in app.hooks.list_links(ticket.id)}
        assert kinds == {DocumentKind.CREDIT_NOTE, DocumentKind.COUPON}

        # nothing was copied: the host's tables are as they were, the store has no ticket
        assert _host_rows(host_engine) == host_before
        stored = backend.snapshot()
        assert "tickets" not in stored and "teams" not in stored
        assert set(stored["team_settings"]) == {"1"}
        with pytest.raises(NotFound):  # alone, the SQL backend knows no such ticket
            AfterSales(backend).hooks.get_ticket("42")
    finally:
        backend.close()
