"""Caps hold although the ERP does not hold its documents: the claim in the after-sales
store (`aftersales_store_claim`), taken before every locked read of a document of an ERP
that another plugin owns. Eight processes race partial refunds of one invoice through an
ERP that commits every call on its own (tests/self_committing_erp.py) with the SQL store on
PostgreSQL: exactly what was invoiced is credited."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from aftersales.app import AfterSales
from aftersales.backends.sql import SqlBackend
from aftersales.clock import FrozenClock
from aftersales.models import InvoiceState, Money, Partner, PaymentState
from aftersales.testing.conformance.processes import WorkerPool, refund_in_steps
from aftersales.testing.scenario import AGENT, Scenario, build_scenario
from tests.self_committing_erp import SelfCommittingErp

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

START = "2026-11-28T09:00:00+00:00"
WORKERS = 8


@pytest.fixture
def urls(new_postgres: Callable[[], str]) -> tuple[str, str]:
    """The after-sales store's database and the ERP's."""
    return new_postgres(), new_postgres()


@pytest.fixture
def composed(urls: tuple[str, str]) -> Iterator[tuple[AfterSales, SqlBackend, SelfCommittingErp]]:
    store = SqlBackend(urls[0])
    erp = SelfCommittingErp(urls[1])
    yield AfterSales(store, clock=FrozenClock(START), plugins=[erp]), store, erp
    erp.close()
    store.close()


def test_the_erp_is_claimed_because_it_is_another_plugin(
    composed: tuple[AfterSales, SqlBackend, SelfCommittingErp],
) -> None:
    app, store, erp = composed
    assert app.pm.owners()["accounting"] == "self-committing-erp"
    assert app.pm.owners()["store"] == "sql"
    calls: list[str] = []
    undo = app.pm.add_hookcall_monitoring(lambda name, *_a: calls.append(name), lambda *_a: None)
    try:
        world = build_scenario(store.builder(app.clock))
        _copy_to_erp(world, erp, app)
        calls.clear()
        app.refunds.reverse(world.ticket.id, world.invoice.id, actor=AGENT)
    finally:
        undo()
    claim = calls.index("aftersales_store_claim")
    assert claim < calls.index("aftersales_accounting_get_refundable")


def _copy_to_erp(world: Scenario, erp: SelfCommittingErp, app: AfterSales) -> None:
    """The ERP holds the scenario's customer (same id as the helpdesk's) and its invoice."""
    builder = erp.database.builder(app.clock)
    builder.put(
        Partner(
            id=world.customer.id,
            name=world.customer.name,
            commercial_entity_id=world.customer.commercial_entity_id,
        )
    )
    builder.put(world.invoice)


def test_eight_processes_never_credit_more_than_the_erp_invoiced(
    composed: tuple[AfterSales, SqlBackend, SelfCommittingErp], urls: tuple[str, str]
) -> None:
    app, store, erp = composed
    world = build_scenario(store.builder(app.clock))
    _copy_to_erp(world, erp, app)
    invoice = erp.database.builder(app.clock).invoice(
        customer=world.customer, lines=[(world.kettle, 6)]
    )
    store_factory = functools.partial(SqlBackend, urls[0])
    erp_factory = functools.partial(SelfCommittingErp, urls[1])
    args = (store_factory, START, world.ticket.id, invoice.id, 2, erp_factory)
    with WorkerPool(WORKERS) as pool:
        numbers = sorted(n for batch in pool.run(refund_in_steps, [args] * WORKERS) for n in batch)
    assert numbers == [f"RINV/2026/{n:05d}" for n in range(1, 7)]  # 16 tries, 6 credited
    notes = erp.database.ledger.credit_notes([invoice.id])
    assert [n.state for n in notes] == [InvoiceState.POSTED] * 6
    assert Money.sum((n.total for n in notes), "EUR") == invoice.total
    after = app.hooks.get_invoice(invoice.id)
    assert (after.payment_state, after.residual) == (PaymentState.REVERSED, Money.of("0.00", "EUR"))
