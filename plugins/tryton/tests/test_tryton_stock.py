"""The kit's stock contract against a real Tryton database (in process), and one return
over XML-RPC.

The memory backend serves the helpdesk and the after-sales store, Tryton the stock port
(customer shipments and their returns). The contract's tests that need what the Tryton
backend does not wire are skipped with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from proteus import Model

from aftersales.backends.memory import MemoryBackend
from aftersales.clock import FrozenClock
from aftersales.errors import InvalidInput, QuantityExceeded
from aftersales.models import (
    Picking,
    PickingKind,
    PickingState,
    ReturnQuantity,
    ReturnRequest,
    Service,
)
from aftersales.models.queries import PickingQuery
from aftersales.testing.conformance import StockContract
from aftersales.testing.conformance._kit import Kit, run_threads
from aftersales.testing.scenario import AGENT
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from conftest import Tryton
from test_tryton_accounting import TrytonKit, _not_on_tryton

#: The storage location of the warehouse the contract sends a return to.
REPAIRS = "WH/Repairs"


def _repairs_location(tryton: Tryton) -> None:
    location_model = Model.get("stock.location", config=tryton.config)
    if location_model.find([("name", "=", REPAIRS)]):
        return
    (storage,) = location_model.find([("code", "=", "STO")])
    location_model(name=REPAIRS, type="storage", parent=storage).save()


@pytest.fixture(scope="module")
def repairs(tryton: Tryton) -> Tryton:
    _repairs_location(tryton)
    return tryton


class TestTrytonStock(StockContract):
    @pytest.fixture
    def kit(self, repairs: Tryton, aftersales_clock: FrozenClock) -> Kit:
        return TrytonKit(
            MemoryBackend(), TrytonBackend(config=repairs.config), repairs, aftersales_clock
        )

    test_picking_round_trip_keeps_moves = _not_on_tryton(
        "sale orders are not wired to Tryton's sales (test_a_return_made_in_tryton covers the rest)"
    )
    test_create_return_makes_the_return_with_the_erps_ids_and_name = _not_on_tryton(
        "sale orders are not wired to Tryton's sales (test_a_return_made_in_tryton covers the rest)"
    )
    test_returnable_deliveries_are_the_done_deliveries_newest_first = _not_on_tryton(
        "sale orders are not wired to Tryton's sales"
    )


def _world(tryton: Tryton, clock: FrozenClock) -> TrytonBuilder:
    store = MemoryBackend()
    return TrytonBuilder(
        TrytonBackend(config=tryton.config), tryton.accounting, store.builder(clock)
    )


def test_a_return_made_in_tryton(repairs: Tryton, aftersales_clock: FrozenClock) -> None:
    """What the contract's creation test checks but the sale order: Tryton's ids and
    numbers, the moves in the delivery's order with their origin, the unit's digits."""
    world = _world(repairs, aftersales_clock)
    erp = world.erp
    ana = world.customer(name="Ana")
    blender = world.product(name="Blender", price=Decimal("49.95"))
    flour = world.product(name="Flour", price=Decimal("1.05"), uom="kg", uom_digits=3)
    delivery = world.delivery(customer=ana, lines=[(blender, 2), (flour, Decimal("2.250"))])
    assert delivery.id.startswith("out:") and delivery.reference  # Tryton's number
    assert delivery.state is PickingState.DONE and delivery.done_at is not None
    assert [str(m.quantity) for m in delivery.moves] == ["2", "2.250"]
    assert erp.aftersales_stock_get_picking(delivery.id, True) == delivery

    request = ReturnRequest(
        delivery_id=delivery.id,
        quantities=[
            ReturnQuantity(move_id=delivery.moves[1].id, quantity=Decimal("1.250")),
            ReturnQuantity(move_id=delivery.moves[0].id, quantity=Decimal(1)),
        ],
        ticket_id="ticket-1",
        at=aftersales_clock.now(),
        reference="op-ret-1",
    )
    made = erp.aftersales_stock_create_return(request)
    assert made is not None
    assert made.kind is PickingKind.RETURN and made.state is PickingState.READY
    assert made.id.startswith("return:") and made.reference != delivery.reference
    assert (made.source_location, made.destination_location) == (
        delivery.destination_location,
        delivery.source_location,
    )
    assert made.origin == f"Return of {delivery.reference}"
    assert (made.return_of_id, made.ticket_id, made.operation_ref, made.partner_id) == (
        delivery.id,
        "ticket-1",
        "op-ret-1",
        ana.id,
    )
    assert [(m.origin_move_id, m.product_id, m.quantity) for m in made.moves] == [
        (delivery.moves[0].id, blender.id, Decimal(1)),
        (delivery.moves[1].id, flour.id, Decimal("1.250")),
    ]
    assert erp.aftersales_stock_find_by_reference("op-ret-1") == [made]
    elsewhere = erp.aftersales_stock_create_return(
        ReturnRequest(
            delivery_id=delivery.id,
            quantities=request.quantities[:1],
            destination_location=REPAIRS,
            at=aftersales_clock.now(),
            reference="op-ret-2",
        )
    )
    assert elsewhere is not None and elsewhere.destination_location == REPAIRS
    balances = erp.aftersales_stock_get_delivery(delivery.id, True)
    assert balances is not None
    assert [(b.delivered, b.reserved) for b in balances.moves] == [
        (Decimal(2), Decimal(1)),
        (Decimal("2.250"), Decimal("2.500")),
    ]
    with pytest.raises(InvalidInput, match="no storage location"):
        erp.aftersales_stock_create_return(
            ReturnRequest(
                delivery_id=delivery.id,
                quantities=request.quantities[:1],
                destination_location="Nowhere",
                at=aftersales_clock.now(),
                reference="op-ret-3",
            )
        )
    assert erp.aftersales_stock_find_by_reference("op-ret-3") == []


def test_a_return_over_xml_rpc(tryton_rpc: Tryton) -> None:
    """One return made, validated and read back through a Tryton server."""
    clock = FrozenClock(datetime(2026, 11, 28, 9, tzinfo=UTC))
    world = _world(tryton_rpc, clock)
    erp = world.erp
    luis = world.customer(name="Luis")
    kettle = world.product(name="Kettle", price=Decimal("20.00"))
    delivery = world.delivery(customer=luis, lines=[(kettle, 3)])
    made = erp.aftersales_stock_create_return(
        ReturnRequest(
            delivery_id=delivery.id,
            quantities=[ReturnQuantity(move_id=delivery.moves[0].id, quantity=Decimal(2))],
            at=clock.now(),
            reference="op-rpc-1",
        )
    )
    assert made is not None
    done = erp.aftersales_stock_validate_return(made.id, clock.now(), "op-rpc-2")
    assert done is not None and done.state is PickingState.DONE and done.done_at == clock.now()
    assert erp.aftersales_stock_find_by_reference("op-rpc-2") == [done]
    balances = erp.aftersales_stock_get_delivery(delivery.id, False)
    assert balances is not None
    assert [(b.returned, b.reserved, b.left) for b in balances.moves] == [
        (Decimal(2), Decimal(0), Decimal(1))
    ]


def test_the_return_service_caps_what_tryton_does_not(
    repairs: Tryton, aftersales_clock: FrozenClock
) -> None:
    """RT-5 over Tryton: Tryton would take back more than was delivered; the return
    service refuses it from the balances the port reads, and Tryton keeps nothing of it."""
    kit = TrytonKit(
        MemoryBackend(), TrytonBackend(config=repairs.config), repairs, aftersales_clock
    )
    world = kit.world
    ana = world.customer(name="Ana")
    blender = world.product(name="Blender", price=Decimal("49.95"))
    delivery = world.delivery(customer=ana, lines=[(blender, 2)])
    team = world.team(name="Support", services={Service.RETURNS})
    ticket = world.ticket(team=team, title="Blender broken", customer=ana)
    returns = kit.app.returns
    assert returns.deliveries(ticket.id, actor=AGENT) == (delivery,)
    kettle = world.product(name="Kettle", price=Decimal("20.00"))

    def with_product(product_id: str) -> list[Picking]:
        query = PickingQuery(partner_ids={ana.id}, product_id=product_id)
        return [r.delivery for r in kit.read(lambda h: h.returnable_deliveries(query))]

    assert (with_product(blender.id), with_product(kettle.id)) == ([delivery], [])
    move = delivery.moves[0].id
    made = returns.create(ticket.id, delivery.id, {move: Decimal(1)}, actor=AGENT)
    assert made.kind is PickingKind.RETURN and made.return_of_id == delivery.id
    erp = kit.app.hooks
    before = erp.get_delivery(delivery.id)
    with pytest.raises(QuantityExceeded):
        returns.create(ticket.id, delivery.id, {move: Decimal(2)}, actor=AGENT)
    assert erp.get_delivery(delivery.id) == before
    done = returns.validate(made.id, actor=AGENT)
    assert (done.state, done.done_at) == (PickingState.DONE, aftersales_clock.now())
    left = returns.prepare(ticket.id, delivery.id, actor=AGENT).lines
    assert [(line.returned, line.reserved, line.quantity) for line in left] == [
        (Decimal(1), Decimal(0), Decimal(1))
    ]
    assert returns.returns(ticket.id, actor=AGENT) == (done,)


def test_threads_returning_one_delivery_never_exceed_it(
    repairs: Tryton, aftersales_clock: FrozenClock
) -> None:
    """RT-5 under threads: Tryton holds no lock across calls, so what keeps four
    concurrent returns of one delivery within it is the library's claim on the delivery
    (here the store's units, which run one at a time), each reading the balances afresh."""
    kit = TrytonKit(
        MemoryBackend(), TrytonBackend(config=repairs.config), repairs, aftersales_clock
    )
    ana = kit.world.customer(name="Ana")
    blender = kit.world.product(name="Blender", price=Decimal("49.95"))
    delivery = kit.world.delivery(customer=ana, lines=[(blender, 2)])
    team = kit.world.team(name="Support", services={Service.RETURNS})
    ticket = kit.world.ticket(team=team, title="Blender broken", customer=ana)
    move = delivery.moves[0].id

    def give_back(_i: int) -> str:
        try:
            kit.app.returns.create(ticket.id, delivery.id, {move: Decimal(1)}, actor=AGENT)
        except QuantityExceeded:
            return "refused"
        return "done"

    assert sorted(run_threads(4, give_back)) == ["done", "done", "refused", "refused"]
    balances = kit.read(lambda h: h.get_delivery(delivery.id))
    assert [(b.delivered, b.reserved) for b in balances.moves] == [(Decimal(2), Decimal(2))]
