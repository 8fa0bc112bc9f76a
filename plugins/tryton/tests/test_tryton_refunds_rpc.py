"""A representative part of the refunds over real XML-RPC: ``trytond`` on 127.0.0.1.

The same composition as ``test_tryton_refunds`` (a SQL after-sales store, Tryton as the
ERP), but the backend is configured with the server's URL, user and password, as a
deployment is.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from aftersales import AfterSales, CreditMethod
from aftersales.backends.sql import SqlBackend
from aftersales.clock import FrozenClock
from aftersales.errors import QuantityExceeded
from aftersales.models import InvoiceState, PaymentState, Service
from aftersales.testing.scenario import AGENT
from aftersales_tryton import invoices
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from tryton_server import ADMIN, PASSWORD, TrytonServer

pytestmark = pytest.mark.slow  # about 2 minutes of XML-RPC on the shared 2-core machine


@pytest.fixture(scope="module")
def erp(tryton_server: TrytonServer) -> Iterator[TrytonBackend]:
    backend = TrytonBackend(url=tryton_server.url, user=ADMIN, password=PASSWORD)
    yield backend
    backend.close()


def test_refunds_over_xml_rpc(
    erp: TrytonBackend,
    tryton_server: TrytonServer,
    tmp_path: Path,
    aftersales_clock: FrozenClock,
) -> None:
    store = SqlBackend(f"sqlite:///{tmp_path / 'aftersales.db'}")
    try:
        app = AfterSales(store, clock=aftersales_clock, plugins=[erp], services={Service.REFUNDS})
        world = TrytonBuilder(
            erp, tryton_server.database.accounting, store.builder(aftersales_clock)
        )
        ana = world.customer(name="Ana Pérez")
        blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
        first = world.invoice(customer=ana, lines=[(blender, 2)])
        second = world.invoice(customer=ana, lines=[(blender, 1)])
        team = world.team(name="Support", services={Service.REFUNDS})
        ticket = world.ticket(team=team, title="Broken", customer=ana, product=blender)
        refunds = app.refunds
        assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == (second, first)

        one = attrs.evolve(first.lines[0], quantity=Decimal(1))
        draft = refunds.reverse(ticket.id, first.id, lines=[one], actor=AGENT).credit_note
        posted = refunds.confirm(draft.id, actor=AGENT)
        number = invoices.read_invoice(erp.config, int(draft.id)).number
        assert number and posted.credit_note.number == number
        assert posted.invoice.payment_state is PaymentState.PARTIAL
        with pytest.raises(QuantityExceeded):
            refunds.reverse(ticket.id, first.id, lines=[first.lines[0]], actor=AGENT)

        full = refunds.reverse(ticket.id, second.id, method=CreditMethod.FULL, actor=AGENT)
        assert full.credit_note.state is InvoiceState.POSTED
        assert full.invoice.payment_state is PaymentState.REVERSED
        assert invoices.read_invoice(erp.config, int(second.id)).state == "cancelled"
    finally:
        store.close()
