"""Contract of the stock port: the operations an ERP performs on deliveries and returns.

Everything is checked through the port's own reads (`get_picking`, `get_delivery`,
`returnable_deliveries`, `find_by_reference`), never through a backend's tables, so an ERP
backend with its own stock — its own ids, its own return names — passes it as the reference
ERP does. Names are only required to exist and differ; ids to be the ERP's.
`PickingSearchContract` covers the two optional reads (`find_pickings`, `list_returns`)
that no service needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from aftersales.errors import BackendError, NotFound
from aftersales.models import (
    MoveBalance,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    ReturnQuantity,
    ReturnRequest,
)
from aftersales.models.queries import PickingQuery

from ._kit import ContractBase, Kit

__all__ = ["PickingSearchContract", "StockContract"]


def _request(
    kit: Kit,
    delivery: Picking,
    quantities: Sequence[tuple[int, str]],
    *,
    reference: str = "op-kit",
    destination: str | None = None,
) -> ReturnRequest:
    """A return of `delivery`: (index of the move, quantity) pairs."""
    return ReturnRequest(
        delivery_id=delivery.id,
        quantities=[
            ReturnQuantity(move_id=delivery.moves[i].id, quantity=Decimal(q)) for i, q in quantities
        ],
        destination_location=destination,
        ticket_id="ticket-1",
        at=kit.clock.now(),
        reference=reference,
    )


def _create(kit: Kit, request: ReturnRequest) -> Picking:
    return kit.write(lambda h: h.create_return(request))


def _balances(kit: Kit, delivery: Picking) -> list[tuple[Decimal, Decimal, Decimal]]:
    found = kit.read(lambda h: h.get_delivery(delivery.id))
    return [(b.delivered, b.returned, b.reserved) for b in found.moves]


class StockContract(ContractBase):
    """`aftersales_stock_*`: make, validate and cancel returns, report what the returns of
    a delivery took, find returns by reference; pickings keep their moves, in order."""

    def test_picking_round_trip_keeps_moves(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        flour = kit.world.product(name="Flour", price=Decimal("1.05"), uom="kg", uom_digits=3)
        order = kit.world.sale_order(customer=ana)
        delivery = kit.world.delivery(
            customer=ana, lines=[(blender, 2), (flour, Decimal("2.250"))], sale_order=order
        )
        stored = kit.read(lambda h: h.get_picking(delivery.id))
        assert stored == delivery
        assert [m.quantity for m in stored.moves] == [Decimal(2), Decimal("2.250")]
        assert str(stored.moves[1].quantity) == "2.250"
        assert kit.read(lambda h: h.get_picking(delivery.id, lock=True)) == delivery
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_picking("pick-missing"))
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_delivery("pick-missing"))

    def test_create_return_makes_the_return_with_the_erps_ids_and_name(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        flour = kit.world.product(name="Flour", price=Decimal("1.05"), uom="kg", uom_digits=3)
        order = kit.world.sale_order(customer=ana)
        delivery = kit.world.delivery(
            customer=ana, lines=[(blender, 2), (flour, Decimal("2.250"))], sale_order=order
        )
        # asked in the other order: the moves come in the delivery's
        request = _request(kit, delivery, [(1, "1.250"), (0, "1")], reference="op-ret-1")
        made = _create(kit, request)
        assert made.kind is PickingKind.RETURN
        assert made.state is PickingState.READY
        assert made.id not in {delivery.id, ""}
        assert made.reference
        assert made.reference != delivery.reference
        assert (made.partner_id, made.sale_order_id) == (ana.id, order.id)
        assert (made.source_location, made.destination_location) == (
            delivery.destination_location,
            delivery.source_location,
        )
        assert made.origin == f"Return of {delivery.reference}"
        assert (made.return_of_id, made.ticket_id, made.operation_ref) == (
            delivery.id,
            "ticket-1",
            "op-ret-1",
        )
        assert [(m.origin_move_id, m.product_id, m.quantity) for m in made.moves] == [
            (delivery.moves[0].id, blender.id, Decimal(1)),
            (delivery.moves[1].id, flour.id, Decimal("1.250")),
        ]
        assert all(m.state is MoveState.CONFIRMED for m in made.moves)
        assert len({m.id for m in made.moves} | {m.id for m in delivery.moves}) == 4
        assert kit.read(lambda h: h.get_picking(made.id)) == made
        assert kit.read(lambda h: list(h.find_pickings_by_reference("op-ret-1"))) == [made]
        assert kit.read(lambda h: list(h.find_pickings_by_reference("op-none"))) == []

        elsewhere = _create(kit, _request(kit, delivery, [(0, "1")], destination="WH/Repairs"))
        assert elsewhere.destination_location == "WH/Repairs"
        assert elsewhere.id != made.id
        assert elsewhere.reference != made.reference

    def test_a_return_of_an_unknown_delivery_is_not_this_erps(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 2)])
        request = _request(kit, delivery, [(0, "1")])
        with kit.unchanged(), pytest.raises(NotFound):
            kit.write(
                lambda h: h.create_return(
                    ReturnRequest(
                        delivery_id="pick-missing",
                        quantities=request.quantities,
                        at=request.at,
                        reference="op-kit",
                    )
                )
            )

    def test_what_the_returns_took_is_reported_per_move(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 5), (kettle, 2)])
        assert _balances(kit, delivery) == [
            (Decimal(5), Decimal(0), Decimal(0)),
            (Decimal(2), Decimal(0), Decimal(0)),
        ]
        done = _create(kit, _request(kit, delivery, [(0, "2"), (1, "1")], reference="op-a"))
        open_ = _create(kit, _request(kit, delivery, [(0, "1")], reference="op-b"))
        dropped = _create(kit, _request(kit, delivery, [(0, "2")], reference="op-c"))
        validated = kit.write(lambda h: h.validate_return(done.id, kit.clock.now(), "op-d"))
        cancelled = kit.write(lambda h: h.cancel_return(dropped.id, "op-e"))
        assert validated.state is PickingState.DONE
        assert validated.done_at == kit.clock.now()
        assert {m.state for m in validated.moves} == {MoveState.DONE}
        assert cancelled.state is PickingState.CANCELLED
        assert cancelled.done_at is None
        assert {m.state for m in cancelled.moves} == {MoveState.CANCELLED}
        assert (validated.operation_ref, cancelled.operation_ref) == ("op-d", "op-e")
        assert kit.read(lambda h: list(h.find_pickings_by_reference("op-d"))) == [validated]
        assert kit.read(lambda h: h.get_picking(open_.id)).state is PickingState.READY
        assert _balances(kit, delivery) == [
            (Decimal(5), Decimal(2), Decimal(1)),
            (Decimal(2), Decimal(1), Decimal(0)),
        ]
        locked = kit.read(lambda h: h.get_delivery(delivery.id, lock=True))
        assert locked.delivery == delivery
        assert locked.balance(delivery.moves[0].id) == MoveBalance(
            move_id=delivery.moves[0].id,
            delivered=Decimal(5),
            returned=Decimal(2),
            reserved=Decimal(1),
        )
        # a return is a picking too: nothing was taken from it
        as_delivery = kit.read(lambda h: h.get_delivery(open_.id))
        assert as_delivery.delivery.kind is PickingKind.RETURN
        assert [(b.returned, b.reserved) for b in as_delivery.moves] == [(Decimal(0), Decimal(0))]

    def test_only_open_returns_are_validated_or_cancelled(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 5)])
        ret = _create(kit, _request(kit, delivery, [(0, "1")]))
        kit.write(lambda h: h.validate_return(ret.id, kit.clock.now(), "op-v"))
        for finish in (
            lambda h: h.validate_return(ret.id, kit.clock.now(), "op-x"),
            lambda h: h.cancel_return(ret.id, "op-x"),
            lambda h: h.cancel_return(delivery.id, "op-x"),
        ):
            with kit.unchanged(), pytest.raises(BackendError):
                kit.write(finish)
        with kit.unchanged(), pytest.raises(NotFound):
            kit.write(lambda h: h.cancel_return("pick-missing", "op-x"))
        waiting = kit.world.delivery(customer=ana, lines=[(blender, 1)], done=False)
        with kit.unchanged(), pytest.raises(BackendError):
            _create(kit, _request(kit, waiting, [(0, "1")]))

    def test_returnable_deliveries_are_the_done_deliveries_newest_first(self, kit: Kit) -> None:
        company = kit.world.company(name="Pérez")
        ana = kit.world.customer(name="Ana", company=company)
        luis = kit.world.customer(name="Luis", company=company)
        other = kit.world.customer(name="Other")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        order = kit.world.sale_order(customer=ana)
        first = kit.world.delivery(customer=ana, lines=[(blender, 3)], sale_order=order)
        kit.clock.advance(days=1)
        second = kit.world.delivery(customer=luis, lines=[(kettle, 1)])
        kit.clock.advance(days=1)
        kit.world.delivery(customer=ana, lines=[(kettle, 2)], done=False)
        kit.world.delivery(customer=other, lines=[(blender, 1)])
        ret = _create(kit, _request(kit, first, [(0, "2")]))
        kit.write(lambda h: h.validate_return(ret.id, kit.clock.now(), "op-v"))
        twins = [kit.world.delivery(customer=luis, lines=[(kettle, n)]) for n in (1, 2)]

        def found(**conditions: object) -> list[tuple[str, list[Decimal]]]:
            query = PickingQuery(partner_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(
                lambda h: [
                    (r.delivery.id, [b.returned for b in r.moves])
                    for r in h.returnable_deliveries(query)
                ]
            )

        # kind and state are the port's: always done deliveries
        expected = [
            (twins[1].id, [Decimal(0)]),
            (twins[0].id, [Decimal(0)]),
            (second.id, [Decimal(0)]),
            (first.id, [Decimal(2)]),
        ]
        assert found() == expected
        assert found(kind=PickingKind.RETURN, state=PickingState.READY) == expected
        assert found(sale_order_id=order.id) == [(first.id, [Decimal(2)])]
        assert found(product_id=blender.id) == [(first.id, [Decimal(2)])]
        empty = PickingQuery(partner_ids=set())
        assert kit.read(lambda h: list(h.returnable_deliveries(empty))) == []

    #: When the paging test validates its deliveries, in minutes after the kit clock's
    #: start, in the order it makes them, and when it validates the one it makes between two
    #: pages. Out of time order and with a tie by default (the id decides between equal
    #: times); an ERP that validates deliveries only in time order overrides them.
    paging_minutes: tuple[int, ...] = (10, 40, 40, 20, 90)
    paging_minute_between: int = 120

    def test_returnable_deliveries_come_in_pages_after_a_key(self, kit: Kit) -> None:
        """`after` and `limit`: one page in the paged order, newest first by
        `(done_at, created_at, id)`, strictly after the key; a delivery validated between
        two pages never shifts the next one (third-party ERPs must page)."""
        ana = kit.world.customer(name="Ana")
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        start = kit.clock.now()
        made = []
        for minute in self.paging_minutes:
            kit.clock.set(start + timedelta(minutes=minute))
            made.append(kit.world.delivery(customer=ana, lines=[(kettle, 1)]))
        kit.world.delivery(customer=ana, lines=[(kettle, 1)], done=False)  # never listed
        order = sorted(made, key=lambda p: (p.done_at, p.created_at, p.id), reverse=True)

        def page(after: Picking | None, limit: int) -> list[str]:
            key = None if after is None else (after.done_at, after.created_at, after.id)
            query = PickingQuery(partner_ids={ana.id}, after=key, limit=limit)
            return kit.read(lambda h: [r.delivery.id for r in h.returnable_deliveries(query)])

        assert page(None, 2) == [p.id for p in order[:2]]
        kit.clock.set(start + timedelta(minutes=self.paging_minute_between))
        kit.world.delivery(customer=ana, lines=[(kettle, 1)])
        assert page(order[1], 2) == [p.id for p in order[2:4]]
        assert page(order[3], 2) == [order[4].id]
        assert page(order[4], 2) == []
        assert page(None, 10)[1:] == [p.id for p in order]


class PickingSearchContract(ContractBase):
    """`aftersales_stock_find_pickings` and `aftersales_stock_list_returns`: optional reads
    (no service needs them), for a backend that offers them."""

    def test_returns_of_a_delivery_oldest_first(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 3)])
        other = kit.world.delivery(customer=ana, lines=[(blender, 1)])
        one = _create(kit, _request(kit, delivery, [(0, "1")]))
        _create(kit, _request(kit, other, [(0, "1")]))
        two = _create(kit, _request(kit, delivery, [(0, "1")]))
        assert kit.read(lambda h: list(h.list_returns(delivery.id))) == [one, two]
        assert kit.read(lambda h: list(h.list_returns("pick-none"))) == []

    def test_equally_new_pickings_come_later_stored_first(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        made = [kit.world.delivery(customer=ana, lines=[(blender, n)]) for n in (1, 2, 3)]
        query = PickingQuery(partner_ids={ana.id})
        assert kit.read(lambda h: [p.id for p in h.find_pickings(query)]) == [
            p.id for p in reversed(made)
        ]

    def test_find_pickings_filters_and_orders_newest_first(self, kit: Kit) -> None:
        company = kit.world.company(name="Pérez")
        ana = kit.world.customer(name="Ana", company=company)
        luis = kit.world.customer(name="Luis", company=company)
        other = kit.world.customer(name="Other")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        order = kit.world.sale_order(customer=ana)
        first = kit.world.delivery(customer=ana, lines=[(blender, 1)], sale_order=order)
        kit.clock.advance(days=1)
        second = kit.world.delivery(customer=luis, lines=[(kettle, 1)])
        kit.clock.advance(days=1)
        waiting = kit.world.delivery(customer=ana, lines=[(kettle, 2)], done=False)
        kit.world.delivery(customer=other, lines=[(blender, 1)])
        ret = _create(kit, _request(kit, first, [(0, "1")]))

        def ids(**conditions: object) -> list[str]:
            query = PickingQuery(partner_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(lambda h: [p.id for p in h.find_pickings(query)])

        assert ids(kind=PickingKind.DELIVERY) == [second.id, first.id, waiting.id]
        assert ids(kind=PickingKind.DELIVERY, state=PickingState.DONE) == [second.id, first.id]
        assert ids(sale_order_id=order.id) == [first.id, ret.id]
        assert ids(product_id=kettle.id) == [second.id, waiting.id]
        assert ids(kind=PickingKind.RETURN) == [ret.id]
        assert kit.read(lambda h: list(h.find_pickings(PickingQuery(partner_ids=set())))) == []
