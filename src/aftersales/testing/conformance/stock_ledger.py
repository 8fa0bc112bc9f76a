"""Contract of the reference ERP's stock storage: a `StockLedger`.

Not part of `BackendContract`: it is for a backend that serves the stock port with the
reference ERP (`ReferenceStock`) over its own storage and exposes that storage as
`backend.ledger`, as the memory and the SQL backends do. An ERP backend with its own stock
has no stock ledger and runs `StockContract` only. Every call runs in a unit of work, as the
reference stock makes them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs

from aftersales.erp.ledger import StockLedger
from aftersales.models import MoveState, Picking, PickingKind, PickingState, StockMove

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["StockLedgerContract"]


def _ledger(kit: Kit) -> StockLedger:
    ledger: StockLedger = kit.backend.ledger
    return ledger


def _return(kit: Kit, delivery: Picking, number: int, *, ref: str | None = None) -> Picking:
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
                quantity=Decimal(1),
                origin_move_id=move.id,
            ),
        ),
        created_at=kit.clock.now() + timedelta(minutes=number),
        origin=f"Return of {delivery.reference}",
        return_of_id=delivery.id,
        ticket_id="ticket-1",
        operation_ref=ref,
    )


class StockLedgerContract(ContractBase):
    """`backend.ledger`: what the reference stock stores, and its numbering."""

    def test_saving_a_picking_replaces_its_moves(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 2)])
        ret = _return(kit, delivery, 1, ref="op-1")
        kit.write(lambda h: _ledger(kit).save_picking(ret))
        assert kit.read(lambda h: _ledger(kit).get_picking(ret.id, True)) == ret
        done = attrs.evolve(
            ret,
            state=PickingState.DONE,
            done_at=kit.clock.now(),
            moves=tuple(attrs.evolve(m, state=MoveState.DONE) for m in ret.moves),
        )
        kit.write(lambda h: _ledger(kit).save_picking(done))
        assert kit.read(lambda h: _ledger(kit).get_picking(ret.id, False)) == done
        emptied = attrs.evolve(done, moves=())
        kit.write(lambda h: _ledger(kit).save_picking(emptied))
        assert kit.read(lambda h: _ledger(kit).get_picking(ret.id, False)) == emptied
        assert kit.read(lambda h: _ledger(kit).get_picking("pick-missing", False)) is None

    def test_returns_of_many_deliveries_and_by_reference(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        deliveries = [kit.world.delivery(customer=ana, lines=[(blender, 3)]) for _ in range(3)]
        first = _return(kit, deliveries[0], 1, ref="op-1")
        second = _return(kit, deliveries[0], 2, ref="op-2")
        other = _return(kit, deliveries[1], 3, ref="op-1")

        def save(h: object) -> None:
            for picking in (first, other, second):
                _ledger(kit).save_picking(picking)

        kit.write(save)
        ids = [d.id for d in deliveries]
        found = kit.read(lambda h: list(_ledger(kit).returns_of(ids)))
        assert sorted(p.id for p in found) == sorted([first.id, second.id, other.id])
        mine = [p for p in found if p.return_of_id == deliveries[0].id]
        assert mine == [first, second]  # each delivery's returns in the order stored
        assert kit.read(lambda h: list(_ledger(kit).returns_of([deliveries[2].id]))) == []
        assert kit.read(lambda h: list(_ledger(kit).returns_of([]))) == []
        by_ref = kit.read(lambda h: list(_ledger(kit).find_pickings_by_reference("op-1")))
        assert by_ref == [first, other]
        assert kit.read(lambda h: list(_ledger(kit).find_pickings_by_reference("op-x"))) == []

    def test_draws_are_distinct_and_increasing_per_sequence(self, kit: Kit) -> None:
        drawn = [kit.write(lambda h: _ledger(kit).draw("WH/RET")) for _ in range(3)]
        assert drawn == sorted(set(drawn))
        assert drawn[0] >= 1
        assert kit.write(lambda h: _ledger(kit).draw("A/NEW/ONE")) == 1

    def test_threads_drawing_from_one_sequence_get_distinct_numbers(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)
        numbers = run_threads(6, lambda _i: kit.write(lambda h: _ledger(kit).draw("RO")))
        assert len(set(numbers)) == 6
