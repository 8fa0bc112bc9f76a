"""The refund service over Tryton: a SQL after-sales store, Tryton as the ERP (in process).

``AfterSales(SqlBackend(...), plugins=[TrytonBackend(...)])``: the SQL backend serves the
helpdesk, sales and after-sales store ports, Tryton the accounting port. Every document the
refunds make is Tryton's (its ids, its numbers), and the caps Tryton does not enforce are
held by the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from aftersales import AfterSales, CreditMethod
from aftersales.backends.sql import SqlBackend
from aftersales.clock import FrozenClock
from aftersales.errors import InvalidConfiguration, InvalidOperation, QuantityExceeded
from aftersales.models import (
    InvoiceState,
    Partner,
    PaymentState,
    Product,
    Service,
    SubscriptionState,
)
from aftersales.models.accounting import Invoice
from aftersales.models.helpdesk import Ticket
from aftersales.testing.scenario import AGENT, MANAGER
from aftersales_tryton import invoices
from aftersales_tryton.backend import NO_PLAN, TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from conftest import Tryton

REFUND_MODULES = ("account", "sale_management", "helpdesk_sale", "helpdesk_account")


@dataclass
class Desk:
    app: AfterSales
    tryton: Tryton
    ticket: Ticket
    invoice: Invoice
    world: TrytonBuilder
    customer: Partner
    kettle: Product


@pytest.fixture(scope="module")
def erp(tryton: Tryton) -> TrytonBackend:
    return TrytonBackend(config=tryton.config)


@pytest.fixture
def desk(
    tryton: Tryton, erp: TrytonBackend, tmp_path: Path, aftersales_clock: FrozenClock
) -> Iterator[Desk]:
    store = SqlBackend(f"sqlite:///{tmp_path / 'aftersales.db'}")
    app = AfterSales(store, clock=aftersales_clock, plugins=[erp], services={Service.REFUNDS})
    world = TrytonBuilder(erp, tryton.accounting, store.builder(aftersales_clock))
    world.install(*REFUND_MODULES)
    ana = world.customer(name="Ana Pérez", email="ana@perez.example")
    blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
    invoice = world.invoice(customer=ana, lines=[(blender, 2), (kettle, 1)])
    team = world.team(name="Support", services={Service.REFUNDS})
    ticket = world.ticket(team=team, title="Blender broken", customer=ana, product=blender)
    yield Desk(app, tryton, ticket, invoice, world, ana, kettle)
    store.close()


def test_the_ports_have_their_owners(desk: Desk) -> None:
    owners = desk.app.pm.owners()
    assert owners["accounting"] == owners["modules"] == owners["subscription"] == "tryton"
    assert {owners["helpdesk"], owners["store"], owners["sales"]} == {"sql"}


def test_a_partial_refund_is_trytons_credit_note_numbered_by_tryton(desk: Desk) -> None:
    refunds, invoice = desk.app.refunds, desk.invoice
    assert refunds.invoices_to_refund(desk.ticket.id, actor=AGENT) == (invoice,)
    one = attrs.evolve(invoice.lines[0], quantity=Decimal(1))
    draft = refunds.reverse(desk.ticket.id, invoice.id, lines=[one], actor=AGENT).credit_note
    assert draft.id.isdigit() and draft.number is None and draft.state is InvoiceState.DRAFT
    in_tryton = invoices.read_invoice(desk.tryton.config, int(draft.id))
    assert in_tryton.state == "draft" and in_tryton.total_amount == Decimal("-60.44")
    posted = refunds.confirm(draft.id, actor=AGENT)
    number = invoices.read_invoice(desk.tryton.config, int(draft.id)).number
    assert number and posted.credit_note.number == number  # Tryton's sequence
    assert posted.invoice.payment_state is PaymentState.PARTIAL
    assert posted.invoice.residual.amount == invoice.total.amount - Decimal("60.44")
    view = desk.app.tickets.view(desk.ticket.id, actor=AGENT)
    assert view.counts.credit_notes == 1
    assert any(number in message.body for message in view.trail)


def test_a_full_refund_is_trytons_refund(desk: Desk) -> None:
    done = desk.app.refunds.reverse(
        desk.ticket.id, desk.invoice.id, method=CreditMethod.FULL, actor=AGENT
    )
    assert done.credit_note.state is InvoiceState.POSTED and done.credit_note.number
    assert done.credit_note.total == desk.invoice.total
    assert (done.invoice.payment_state, done.invoice.residual.amount) == (
        PaymentState.REVERSED,
        Decimal("0.00"),
    )
    # In Tryton: the credit note reconciled with the invoice, which Tryton cancelled.
    config = desk.tryton.config
    assert invoices.read_invoice(config, int(desk.invoice.id)).state == "cancelled"
    assert invoices.read_invoice(config, int(done.credit_note.id)).state == "paid"
    assert desk.app.refunds.invoices_to_refund(desk.ticket.id, actor=AGENT) == ()


def test_full_and_reinvoice_is_trytons_refund_and_copy(desk: Desk) -> None:
    done = desk.app.refunds.reverse(
        desk.ticket.id, desk.invoice.id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT
    )
    assert done.new_invoice is not None
    copy = invoices.read_invoice(desk.tryton.config, int(done.new_invoice.id))
    assert (copy.state, copy.number, copy.total_amount) == (
        "draft",
        None,
        desk.invoice.total.amount,
    )
    assert done.new_invoice.state is InvoiceState.DRAFT
    assert done.new_invoice.reference == f"Replaces {desk.invoice.number}"


def test_the_library_caps_what_tryton_would_credit(desk: Desk) -> None:
    """Tryton credits 5 units of a 3-unit line without a word; the refund service does not."""
    refunds, invoice = desk.app.refunds, desk.invoice
    refunds.reverse(desk.ticket.id, invoice.id, lines=[invoice.lines[0]], actor=AGENT)
    config = desk.tryton.config
    before = invoices.credit_notes_of(config, int(invoice.id))
    three = attrs.evolve(invoice.lines[0], quantity=Decimal(2))
    with pytest.raises(QuantityExceeded):
        refunds.reverse(desk.ticket.id, invoice.id, lines=[three], actor=AGENT)
    assert invoices.credit_notes_of(config, int(invoice.id)) == before


# -- modules and subscription: Tryton's own ------------------------------------------------


@pytest.fixture
def everything(
    tryton: Tryton, erp: TrytonBackend, tmp_path: Path, aftersales_clock: FrozenClock
) -> Iterator[tuple[AfterSales, SqlBackend, str]]:
    """An application built for every service over Tryton, and a team with none on."""
    store = SqlBackend(f"sqlite:///{tmp_path / 'everything.db'}")
    app = AfterSales(store, clock=aftersales_clock, plugins=[erp])
    world = TrytonBuilder(erp, tryton.accounting, store.builder(aftersales_clock))
    team = world.team(name="Workshop")
    yield app, store, team.id
    store.close()


@pytest.mark.parametrize(
    ("service", "missing"),
    [
        (Service.REPAIRS, "repairs: Tryton has no repair orders"),
    ],
)
def test_a_service_tryton_does_not_serve_is_refused_naming_what_is_missing(
    everything: tuple[AfterSales, SqlBackend, str], service: Service, missing: str
) -> None:
    app, _store, team_id = everything
    before = app.settings.team_settings(team_id, actor=MANAGER)
    with pytest.raises(InvalidConfiguration, match="cannot be installed over Tryton") as refused:
        app.settings.configure(team_id, enable=[service], actor=MANAGER)
    assert missing in str(refused.value)
    assert app.settings.team_settings(team_id, actor=MANAGER) == before
    assert before.services == frozenset()


def test_refunds_and_returns_are_enabled_on_trytons_modules_with_no_plan_and_no_trial(
    everything: tuple[AfterSales, SqlBackend, str],
) -> None:
    app, _store, team_id = everything
    services = [Service.REFUNDS, Service.RETURNS]
    plan = app.settings.plan(team_id, enable=services, actor=MANAGER)
    # account_invoice, sale, stock, account_invoice_stock: activated in the template
    assert plan.modules == () and not plan.trial_starts
    done = app.settings.configure(team_id, enable=services, actor=MANAGER)
    assert done.team.services == frozenset(services)
    assert done.subscription.state is SubscriptionState.PAID
    assert done.subscription.paid_reference == NO_PLAN
    assert app.hooks.subscription_get().paid_reference == NO_PLAN


def test_a_paid_invoice_offers_only_partial_and_refuses_full(desk: Desk) -> None:
    """RF-5 on Tryton's own payment (made through ``account.invoice.pay``)."""
    refunds, config = desk.app.refunds, desk.tryton.config
    paid = desk.world.invoice(customer=desk.customer, lines=[(desk.kettle, 3)], paid=True)
    assert (paid.payment_state, paid.residual.amount) == (PaymentState.PAID, Decimal("0.00"))
    assert invoices.read_invoice(config, int(paid.id)).state == "paid"
    assert refunds.credit_methods(desk.ticket.id, paid.id, actor=AGENT) == (CreditMethod.PARTIAL,)
    before = invoices.credit_notes_of(config, int(paid.id))
    with pytest.raises(InvalidOperation, match="partial"):
        refunds.reverse(desk.ticket.id, paid.id, method=CreditMethod.FULL, actor=AGENT)
    assert invoices.credit_notes_of(config, int(paid.id)) == before
    draft = refunds.reverse(desk.ticket.id, paid.id, actor=AGENT).credit_note
    assert draft.state is InvoiceState.DRAFT and draft.reversed_invoice_id == paid.id
