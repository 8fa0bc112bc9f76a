"""Contract of the stock port: deliveries and returns with their moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import MoveState, Picking, PickingKind, PickingState, StockMove
from aftersales.models.queries import PickingQuery

from ._kit import ContractBase, Kit

__all__ = ["StockContract"]


def _return(kit: Kit, delivery: Picking, number: int, quantity: str = "1") -> Picking:
    move = delivery.moves[0]
    return Picking(
        id=f"ret-{delivery.id}-{number}",
        kind=PickingKind.RETURN,
        reference=f"WH/RET/{number:05d}",
        partner_id=delivery.partner_id,
        source_location="Partners/Customers",
        destination_location="WH/Stock",
        state=PickingState.READY,
        moves=(
            StockMove(
                id=f"rmove-{delivery.id}-{number}",
                product_id=move.product_id,
                quantity=Decimal(quantity),
                origin_move_id=move.id,
                scrapped=number % 2 == 0,
            ),
        ),
        created_at=kit.clock.now() + timedelta(minutes=number),
        origin=delivery.reference,
        return_of_id=delivery.id,
        ticket_id="ticket-1",
    )


class StockContract(ContractBase):
    """`aftersales_stock_*`: pickings keep their moves, in order."""

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

    def test_saving_a_picking_replaces_its_moves(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 2)])
        ret = _return(kit, delivery, 1)
        kit.write(lambda h: h.save_picking(ret))
        done = attrs.evolve(
            ret,
            state=PickingState.DONE,
            done_at=kit.clock.now(),
            moves=tuple(attrs.evolve(m, state=MoveState.DONE) for m in ret.moves),
        )
        kit.write(lambda h: h.save_picking(done))
        assert kit.read(lambda h: h.get_picking(ret.id)) == done
        emptied = attrs.evolve(done, moves=())
        kit.write(lambda h: h.save_picking(emptied))
        assert kit.read(lambda h: h.get_picking(ret.id)).moves == ()

    def test_returns_of_a_delivery_oldest_first(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 3)])
        other = kit.world.delivery(customer=ana, lines=[(blender, 1)])
        returns = [_return(kit, delivery, n) for n in (1, 2)]

        def save(h: object) -> None:
            kit.hooks.save_picking(returns[0])
            kit.hooks.save_picking(_return(kit, other, 9))
            kit.hooks.save_picking(returns[1])

        kit.write(save)
        assert kit.read(lambda h: list(h.list_returns(delivery.id))) == returns
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
        ret = _return(kit, first, 1)
        kit.write(lambda h: h.save_picking(ret))

        def ids(**conditions: object) -> list[str]:
            query = PickingQuery(partner_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(lambda h: [p.id for p in h.find_pickings(query)])

        assert ids(kind=PickingKind.DELIVERY) == [second.id, first.id, waiting.id]
        assert ids(kind=PickingKind.DELIVERY, state=PickingState.DONE) == [second.id, first.id]
        assert ids(sale_order_id=order.id) == [first.id]
        assert ids(product_id=kettle.id) == [second.id, waiting.id]
        assert ids(kind=PickingKind.RETURN) == [ret.id]
        assert kit.read(lambda h: list(h.find_pickings(PickingQuery(partner_ids=set())))) == []
