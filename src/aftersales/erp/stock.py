"""The reference ERP's stock: returns of deliveries, their names, moves and ids.

What a warehouse does on its own when a helpdesk asks it to take goods back — give the return
and its moves their ids, name it from its sequence (`WH/RET/00001`, without a row lock),
link each return move to the delivery move it sends back, and tell what the returns of a
delivery already took — lives here, once, over a `StockLedger`. `StockPort` serves the
`aftersales_stock_*` hooks from it: the memory and the SQL backends both inherit it, so both
behave the same.

The return service never does any of this: it checks what a helpdesk may do (rights, toggle,
the customer's deliveries, the caps from the balances reported here), asks the port, and
records on the ticket what the port made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from aftersales.erp.ledger import StockLedger
from aftersales.errors import BackendError
from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import (
    MoveBalance,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    Returnable,
    ReturnRequest,
    StockMove,
    evolve,
)
from aftersales.models.queries import PickingQuery

__all__ = ["RETURN_SEQUENCE", "ReferenceStock", "StockPort", "format_return_name"]

#: The sequence return names are drawn from (`WH/RET/00001`, G-8).
RETURN_SEQUENCE = "WH/RET"

_OPEN = frozenset({PickingState.DRAFT, PickingState.WAITING, PickingState.READY})


def format_return_name(sequence: str, number: int) -> str:
    """`WH/RET` and 1 → `WH/RET/00001`.

    Examples:
        >>> format_return_name("WH/RET", 17)
        'WH/RET/00017'
    """
    return f"{sequence}/{number:05d}"


def balances(delivery: Picking, returns: Sequence[Picking]) -> tuple[MoveBalance, ...]:
    """For each move of `delivery`, in order, what `returns` took from it (RT-5).

    Moves of done returns count as returned, moves of open ones as reserved; cancelled
    returns and cancelled moves count for nothing.

    Examples:
        >>> from datetime import datetime, timezone
        >>> when = datetime(2026, 11, 28, tzinfo=timezone.utc)
        >>> out = Picking(id="d", kind=PickingKind.DELIVERY, reference="WH/OUT/1", partner_id="p",
        ...     source_location="a", destination_location="b", state=PickingState.DONE,
        ...     moves=[StockMove(id="m", product_id="x", quantity=Decimal(5))], created_at=when)
        >>> def ret(state, qty):
        ...     return evolve(out, id=f"r{state}", kind=PickingKind.RETURN, state=state,
        ...         return_of_id="d", moves=[StockMove(id=f"rm{state}", product_id="x",
        ...         quantity=Decimal(qty), origin_move_id="m")])
        >>> [(b.returned, b.reserved, b.left) for b in balances(out, [
        ...     ret(PickingState.DONE, 2), ret(PickingState.READY, 1),
        ...     ret(PickingState.CANCELLED, 9)])]
        [(Decimal('2'), Decimal('1'), Decimal('2'))]
    """
    returned: dict[str, Decimal] = {}
    reserved: dict[str, Decimal] = {}
    for ret in returns:
        if ret.state is PickingState.CANCELLED:
            continue
        into = returned if ret.state is PickingState.DONE else reserved
        for move in ret.moves:
            if move.origin_move_id is None or move.state is MoveState.CANCELLED:
                continue
            into[move.origin_move_id] = into.get(move.origin_move_id, Decimal(0)) + move.quantity
    return tuple(
        MoveBalance(
            move_id=move.id,
            delivered=move.quantity,
            returned=returned.get(move.id, Decimal(0)),
            reserved=reserved.get(move.id, Decimal(0)),
        )
        for move in delivery.moves
    )


class ReferenceStock:
    """The reference ERP's stock over `ledger`.

    `ids` makes a new record id from a kind (`"ret"`, `"move"`; default
    `new_id()`); `name` formats a return's name from its sequence and the number drawn
    from it (default `format_return_name()`); `sequence` is the sequence return names are
    drawn from (default `RETURN_SEQUENCE`). An ERP that ids and names its pickings in its
    own style is the same class with other functions.

    Each method does one operation of the stock port; see the hooks of the same names in
    [`aftersales.hookspecs`][aftersales.hookspecs] for what they promise. They trust the return
    service's checks (rights, the customer, caps) and only refuse what would corrupt the
    stock: a return of a picking that is not a done delivery, a quantity of a move the
    delivery does not have, a validation or cancellation of a return that is not open.
    """

    def __init__(
        self,
        ledger: StockLedger,
        *,
        ids: Callable[[str], str] = new_id,
        name: Callable[[str, int], str] = format_return_name,
        sequence: str = RETURN_SEQUENCE,
    ) -> None:
        self.ledger = ledger
        self._ids = ids
        self._name = name
        self._sequence = sequence

    # -- reads ------------------------------------------------------------------------------

    def get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        return self.ledger.get_picking(picking_id, lock)

    def find_pickings(self, query: PickingQuery) -> list[Picking]:
        return list(self.ledger.find_pickings(query))

    def list_returns(self, delivery_id: str) -> list[Picking]:
        return list(self.ledger.returns_of([delivery_id]))

    def returnable_deliveries(self, query: PickingQuery) -> list[Returnable]:
        found = self.ledger.find_pickings(
            evolve(query, kind=PickingKind.DELIVERY, state=PickingState.DONE)
        )
        if not found:
            return []
        returns: dict[str, list[Picking]] = {}
        for ret in self.ledger.returns_of([d.id for d in found]):
            if ret.return_of_id is not None:
                returns.setdefault(ret.return_of_id, []).append(ret)
        return [Returnable(delivery=d, moves=balances(d, returns.get(d.id, ()))) for d in found]

    def get_delivery(self, delivery_id: str, lock: bool) -> Returnable | None:
        picking = self.ledger.get_picking(delivery_id, lock)
        if picking is None:
            return None
        returns = (
            self.ledger.returns_of([picking.id]) if picking.kind is PickingKind.DELIVERY else ()
        )
        return Returnable(delivery=picking, moves=balances(picking, returns))

    def find_by_reference(self, reference: str) -> list[Picking]:
        return list(self.ledger.find_pickings_by_reference(reference))

    # -- writes -----------------------------------------------------------------------------

    def create_return(self, request: ReturnRequest) -> Picking | None:
        delivery = self.ledger.get_picking(request.delivery_id, True)
        if delivery is None:
            return None
        if delivery.kind is not PickingKind.DELIVERY or delivery.state is not PickingState.DONE:
            raise BackendError(
                f"{delivery.reference} is not a done delivery "
                f"({delivery.kind.value}, {delivery.state.value}): it cannot be returned"
            )
        wanted = {q.move_id: q.quantity for q in request.quantities}
        unknown = sorted(set(wanted) - {m.id for m in delivery.moves})
        if unknown:
            raise BackendError(f"delivery {delivery.reference} has no move {', '.join(unknown)}")
        moves = tuple(
            StockMove(
                id=self._ids("move"),
                product_id=move.product_id,
                quantity=wanted[move.id],
                origin_move_id=move.id,
            )
            for move in delivery.moves  # in the delivery's order
            if wanted.get(move.id, Decimal(0)) > 0
        )
        if not moves:
            raise BackendError(f"a return of {delivery.reference} needs at least one quantity")
        picking_id = self._ids("ret")
        # Drawn last: the draw takes no row lock, but a failed unit before it loses nothing.
        name = self._name(self._sequence, self.ledger.draw(self._sequence))
        return self.ledger.save_picking(
            Picking(
                id=picking_id,
                kind=PickingKind.RETURN,
                reference=name,
                partner_id=delivery.partner_id,
                source_location=delivery.destination_location,
                destination_location=request.destination_location or delivery.source_location,
                state=PickingState.READY,
                moves=moves,
                created_at=request.at,
                origin=f"Return of {delivery.reference}",
                sale_order_id=delivery.sale_order_id,
                return_of_id=delivery.id,
                ticket_id=request.ticket_id,
                operation_ref=request.reference,
            )
        )

    def validate_return(self, return_id: str, at: datetime, reference: str) -> Picking | None:
        return self._finish(return_id, PickingState.DONE, at, reference)

    def cancel_return(self, return_id: str, reference: str) -> Picking | None:
        return self._finish(return_id, PickingState.CANCELLED, None, reference)

    def _finish(
        self, return_id: str, state: PickingState, at: datetime | None, reference: str
    ) -> Picking | None:
        picking = self.ledger.get_picking(return_id, True)
        if picking is None:
            return None
        if picking.kind is not PickingKind.RETURN or picking.state not in _OPEN:
            raise BackendError(
                f"{picking.reference} is not an open return ({picking.kind.value}, "
                f"{picking.state.value})"
            )
        move_state = MoveState.DONE if state is PickingState.DONE else MoveState.CANCELLED
        return self.ledger.save_picking(
            evolve(
                picking,
                state=state,
                moves=tuple(
                    m if m.state is MoveState.CANCELLED else evolve(m, state=move_state)
                    for m in picking.moves
                ),
                done_at=at,
                operation_ref=reference,
            )
        )


class StockPort:
    """Serves the stock port (`aftersales_stock_*`) from `self.stock`.

    A backend inherits it and sets `stock` to a `ReferenceStock` over its `StockLedger`.
    """

    stock: ReferenceStock

    @hookimpl
    def aftersales_stock_get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        return self.stock.get_picking(picking_id, lock)

    @hookimpl
    def aftersales_stock_find_pickings(self, query: PickingQuery) -> list[Picking]:
        return self.stock.find_pickings(query)

    @hookimpl
    def aftersales_stock_list_returns(self, delivery_id: str) -> list[Picking]:
        return self.stock.list_returns(delivery_id)

    @hookimpl
    def aftersales_stock_returnable_deliveries(self, query: PickingQuery) -> list[Returnable]:
        return self.stock.returnable_deliveries(query)

    @hookimpl
    def aftersales_stock_get_delivery(self, delivery_id: str, lock: bool) -> Returnable | None:
        return self.stock.get_delivery(delivery_id, lock)

    @hookimpl
    def aftersales_stock_create_return(self, request: ReturnRequest) -> Picking | None:
        return self.stock.create_return(request)

    @hookimpl
    def aftersales_stock_validate_return(
        self, return_id: str, at: datetime, reference: str
    ) -> Picking | None:
        return self.stock.validate_return(return_id, at, reference)

    @hookimpl
    def aftersales_stock_cancel_return(self, return_id: str, reference: str) -> Picking | None:
        return self.stock.cancel_return(return_id, reference)

    @hookimpl
    def aftersales_stock_find_by_reference(self, reference: str) -> list[Picking]:
        return self.stock.find_by_reference(reference)
