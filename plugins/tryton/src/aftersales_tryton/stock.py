"""The stock port served by Tryton: customer deliveries and their returns as Tryton keeps them.

[`TrytonStock`][aftersales_tryton.stock.TrytonStock] implements the ``aftersales_stock_*``
hooks over a proteus configuration. How the library's pickings are kept in Tryton:

* a delivery is a ``stock.shipment.out`` (id ``out:<Tryton id>``), its moves the shipment's
  outgoing moves (to the customer), its name Tryton's `number`, its source the warehouse
  storage location, its destination the customer location (location names);
* a return is a ``stock.shipment.out.return`` (id ``return:<Tryton id>``): one incoming
  move per quantity asked, whose `origin` is the delivery move it sends back; it goes from
  the customer location to the `warehouse_storage` asked (the delivery's by default) and
  carries the operation reference in `reference`;
* a move's id is the ``stock.move`` id; quantities are in the move's unit, to its digits;
* states: a draft or received return is open (`READY`), validated is received then done in
  Tryton, cancelled is Tryton's cancel; a delivery is `DRAFT`, `WAITING`, `READY`
  (assigned, picked, packed, shipped), `DONE` or `CANCELLED`;
* `created_at` is Tryton's `create_date`; a delivery's `done_at` is its `effective_date`
  (Tryton keeps the day only) at midnight UTC; a validated return's `done_at` is the
  library's time of the validation and its `ticket_id` the ticket it was made from, kept
  in an ``ir.note`` on the return (``after-sales <key>: <value>`` lines);
* `sale_order_id`: the sale of the delivery's moves' origin (``sale.line``), when any.

Balances come from the return moves whose origin is a delivery move: those of done returns
are returned, those of open ones reserved; cancelled returns and moves count for nothing.
Tryton does not compare returned with delivered quantities: the return service caps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from proteus import Model

from aftersales.errors import BackendError, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    MoveBalance,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    Returnable,
    ReturnRequest,
    StockMove,
)
from aftersales.models.queries import PickingQuery, history_after, keyset_page, paged
from aftersales_tryton._values import decimal, record_id
from aftersales_tryton.accounting import _aware, _comment, _meta, _tryton_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated
from aftersales_tryton.userwarnings import call_acknowledging, warning_name

__all__ = ["DELIVERY_PREFIX", "RETURN_PREFIX", "TrytonStock"]

DELIVERY = "stock.shipment.out"
RETURN = "stock.shipment.out.return"
MOVE = "stock.move"
NOTE = "ir.note"
#: The library's picking ids: a Tryton id names a record of one table only.
DELIVERY_PREFIX = "out:"
RETURN_PREFIX = "return:"

_DELIVERY_STATES = {
    "draft": PickingState.DRAFT,
    "waiting": PickingState.WAITING,
    "assigned": PickingState.READY,
    "picked": PickingState.READY,
    "packed": PickingState.READY,
    "shipped": PickingState.READY,
    "done": PickingState.DONE,
    "cancelled": PickingState.CANCELLED,
}
_RETURN_STATES = {
    "draft": PickingState.READY,
    "received": PickingState.READY,
    "done": PickingState.DONE,
    "cancelled": PickingState.CANCELLED,
}
_OPEN_RETURN = frozenset({"draft", "received"})


def _parse(picking_id: str) -> tuple[str, int] | None:
    """``(Tryton model, id)`` of a library picking id, or None when it is not Tryton's."""
    for prefix, model in ((DELIVERY_PREFIX, DELIVERY), (RETURN_PREFIX, RETURN)):
        if isinstance(picking_id, str) and picking_id.startswith(prefix):
            tryton_id = _tryton_id(picking_id[len(prefix) :])
            return None if tryton_id is None else (model, tryton_id)
    return None


def _move_state(state: str) -> MoveState:
    if state == "done":
        return MoveState.DONE
    if state == "cancelled":
        return MoveState.CANCELLED
    return MoveState.CONFIRMED


def _quantity(move: Any) -> Decimal:
    """A move's quantity (a Float in Tryton) to the digits of its unit."""
    digits = int(move.unit.digits or 0)
    return decimal(move.quantity).quantize(Decimal(1).scaleb(-digits))


def _moves(moves: Iterable[Any]) -> tuple[StockMove, ...]:
    found = []
    for move in sorted(moves, key=record_id):
        origin = move.origin
        found.append(
            StockMove(
                id=str(record_id(move)),
                product_id=str(record_id(move.product)),
                quantity=_quantity(move),
                state=_move_state(str(move.state)),
                origin_move_id=(
                    str(record_id(origin))
                    if origin is not None and origin.__class__.__name__ == MOVE
                    else None
                ),
            )
        )
    return tuple(found)


def _day(value: dt.date | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


def _paged_key(record: Any) -> tuple[dt.datetime | None, dt.datetime, str]:
    """Where a done customer shipment sorts in a page of deliveries (`history_order`)."""
    return (_day(record.effective_date), _aware(record.create_date), _delivery_id(record))


def _delivery_id(record: Any) -> str:
    return f"{DELIVERY_PREFIX}{record_id(record)}"


def _sale_of(moves: Iterable[Any]) -> str | None:
    for move in moves:
        origin = move.origin
        if origin is not None and origin.__class__.__name__ == "sale.line":
            return str(record_id(origin.sale))
    return None


class TrytonStock:
    """The stock port (``aftersales_stock_*``) over the proteus `config`.

    `lock=True` is not held: Tryton commits every call on its own, so the return caps
    (RT-5) are the library's, checked under a claim in the after-sales store.
    """

    config: Config

    # -- reading Tryton's records -----------------------------------------------------------

    def _stock_search(
        self, model: str, domain: list[Any], order: Sequence[tuple[str, str]] = ()
    ) -> list[Any]:
        with translated("read shipments"):
            return list(
                Model.get(model, config=self.config).find(
                    domain, order=list(order) or [("id", "ASC")]
                )
            )

    def _stock_notes(self, returns: Sequence[Any]) -> dict[int, dict[str, str]]:
        """The after-sales lines of the notes of each of `returns` (one search; a later
        note's line wins, Tryton's notes being read-only once written), by Tryton id."""
        if not returns:
            return {}
        resources = [f"{RETURN},{record_id(r)}" for r in returns]
        found: dict[int, dict[str, str]] = {}
        for note in self._stock_search(NOTE, [("resource", "in", resources)]):
            meta, _ = _meta(note.message)
            found.setdefault(record_id(note.resource), {}).update(meta)
        return found

    def _stock_delivery(self, record: Any) -> Picking:
        moves = list(record.outgoing_moves)
        return Picking(
            id=_delivery_id(record),
            kind=PickingKind.DELIVERY,
            reference=str(record.number or _delivery_id(record)),
            partner_id=str(record_id(record.customer)),
            source_location=str(record.warehouse_storage.name),
            destination_location=str(record.customer_location.name),
            state=_DELIVERY_STATES[str(record.state)],
            moves=_moves(moves),
            created_at=_aware(record.create_date),
            done_at=_day(record.effective_date) if record.state == "done" else None,
            origin=str(record.origins or ""),
            sale_order_id=_sale_of(moves),
        )

    def _stock_return(self, record: Any, meta: dict[str, str]) -> Picking:
        moves = list(record.incoming_moves)
        origins = [m.origin for m in moves if m.origin is not None]
        delivery = next(
            (
                o.shipment
                for o in origins
                if o.__class__.__name__ == MOVE and o.shipment is not None
            ),
            None,
        )
        done_at = meta.get("done_at")
        return Picking(
            id=f"{RETURN_PREFIX}{record_id(record)}",
            kind=PickingKind.RETURN,
            reference=str(record.number or f"{RETURN_PREFIX}{record_id(record)}"),
            partner_id=str(record_id(record.customer)),
            source_location=str(record.customer_location.name),
            destination_location=str(record.warehouse_storage.name),
            state=_RETURN_STATES[str(record.state)],
            moves=_moves(moves),
            created_at=_aware(record.create_date),
            done_at=(
                (dt.datetime.fromisoformat(done_at) if done_at else _day(record.effective_date))
                if record.state == "done"
                else None
            ),
            origin="" if delivery is None else f"Return of {delivery.number}",
            sale_order_id=_sale_of(o for o in origins if o.__class__.__name__ == MOVE),
            return_of_id=None if delivery is None else _delivery_id(delivery),
            ticket_id=meta.get("ticket"),
            operation_ref=record.reference or None,
        )

    def _stock_returns(self, records: Sequence[Any]) -> list[Picking]:
        notes = self._stock_notes(records)
        return [self._stock_return(r, notes.get(record_id(r), {})) for r in records]

    def _stock_record(self, picking_id: str) -> tuple[str, Any] | None:
        parsed = _parse(picking_id)
        if parsed is None:
            return None
        model, tryton_id = parsed
        found = self._stock_search(model, [("id", "=", tryton_id)])
        return (model, found[0]) if found else None

    def _stock_picking(self, model: str, record: Any) -> Picking:
        return (
            self._stock_delivery(record) if model == DELIVERY else self._stock_returns([record])[0]
        )

    def _stock_balances(self, deliveries: Sequence[Picking]) -> dict[str, tuple[MoveBalance, ...]]:
        """What the returns took from every move of `deliveries` (one search for all)."""
        origins = [f"{MOVE},{m.id}" for d in deliveries for m in d.moves]
        returned: dict[str, Decimal] = {}
        reserved: dict[str, Decimal] = {}
        if origins:
            for ret in self._stock_search(
                RETURN,
                [("moves.origin", "in", origins), ("state", "!=", "cancelled")],
            ):
                into = returned if ret.state == "done" else reserved
                for move in _moves(ret.incoming_moves):
                    if move.origin_move_id is None or move.state is MoveState.CANCELLED:
                        continue
                    key = move.origin_move_id
                    into[key] = into.get(key, Decimal(0)) + move.quantity
        return {
            d.id: tuple(
                MoveBalance(
                    move_id=m.id,
                    delivered=m.quantity,
                    returned=returned.get(m.id, Decimal(0)),
                    reserved=reserved.get(m.id, Decimal(0)),
                )
                for m in d.moves
            )
            for d in deliveries
        }

    # -- reads of the port ------------------------------------------------------------------

    @hookimpl
    def aftersales_stock_get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        with translated(f"read picking {picking_id}"):  # proteus reads lazily: here too
            found = self._stock_record(picking_id)
            return None if found is None else self._stock_picking(*found)

    @hookimpl
    def aftersales_stock_get_delivery(self, delivery_id: str, lock: bool) -> Returnable | None:
        """The picking with what its returns took. `lock=True` cannot hold it: Tryton
        commits every call on its own, so the caps of RT-5 hold by the library's claim."""
        with translated(f"read delivery {delivery_id}"):
            found = self._stock_record(delivery_id)
            if found is None:
                return None
            picking = self._stock_picking(*found)
            if picking.kind is PickingKind.DELIVERY:
                balances = self._stock_balances([picking])[picking.id]
                return Returnable(delivery=picking, moves=balances)
            zero = tuple(MoveBalance(move_id=m.id, delivered=m.quantity) for m in picking.moves)
            return Returnable(delivery=picking, moves=zero)

    @hookimpl
    def aftersales_stock_returnable_deliveries(self, query: PickingQuery) -> list[Returnable]:
        with translated("read the returnable deliveries"):
            return self._stock_returnable(query)

    def _stock_returnable(self, query: PickingQuery) -> list[Returnable]:
        customers = sorted(c for c in map(_tryton_id, query.partner_ids) if c is not None)
        if not customers:
            return []
        domain: list[Any] = [("customer", "in", customers), ("state", "=", "done")]
        if query.product_id is not None:
            product = _tryton_id(query.product_id)
            if product is None:
                return []
            domain.append(("moves.product", "=", product))
        records = self._stock_search(
            DELIVERY,
            domain,
            order=[("effective_date", "DESC"), ("create_date", "DESC"), ("id", "DESC")],
        )
        if query.sale_order_id is not None:
            # the sale is read from the moves' origin: every delivery is read to filter
            deliveries = [self._stock_delivery(r) for r in records]
            deliveries = [d for d in deliveries if d.sale_order_id == query.sale_order_id]
            if query.after is not None or query.limit is not None:
                deliveries = paged(deliveries, query)
        else:
            # Tryton's search pages by offset, not by key: the page is cut here, from the
            # shipments' own fields, and only its deliveries are read with their moves.
            page = keyset_page(records, _paged_key, history_after(query), query.limit)
            deliveries = [self._stock_delivery(r) for r in page]
        balances = self._stock_balances(deliveries)
        return [Returnable(delivery=d, moves=balances[d.id]) for d in deliveries]

    @hookimpl
    def aftersales_stock_find_by_reference(self, reference: str) -> list[Picking]:
        with translated(f"find the returns of operation {reference}"):
            return self._stock_returns(self._stock_search(RETURN, [("reference", "=", reference)]))

    # -- writes -----------------------------------------------------------------------------

    def _stock_destination(self, delivery: Any, name: str | None) -> Any:
        if name is None:
            return delivery.warehouse_storage
        found = self._stock_search(
            "stock.location",
            [
                ("name", "=", name),
                ("type", "=", "storage"),
                ("parent", "child_of", [record_id(delivery.warehouse)]),
            ],
        )
        if not found:
            raise InvalidInput(
                "destination_location",
                name,
                f"no storage location of that name in Tryton's warehouse {delivery.warehouse.name}",
            )
        return found[0]

    def _stock_note(self, shipment: Any, meta: dict[str, str | None]) -> None:
        note = Model.get(NOTE, config=self.config)()
        note.resource = shipment
        note.message = _comment(meta)
        note.save()

    @hookimpl
    def aftersales_stock_create_return(self, request: ReturnRequest) -> Picking | None:
        found = self._stock_record(request.delivery_id)
        if found is None:
            return None
        model, delivery = found
        if model != DELIVERY or delivery.state != "done":
            picking = self._stock_picking(model, delivery)
            raise BackendError(
                f"{picking.reference} is not a done delivery "
                f"({picking.kind.value}, {picking.state.value}): it cannot be returned"
            )
        wanted = {q.move_id: q.quantity for q in request.quantities if q.quantity > 0}
        moves = sorted(delivery.outgoing_moves, key=record_id)
        unknown = sorted(set(wanted) - {str(record_id(m)) for m in moves})
        if unknown:
            raise BackendError(f"delivery {delivery.number} has no move {', '.join(unknown)}")
        if not wanted:
            raise BackendError(f"a return of {delivery.number} needs at least one quantity")
        storage = self._stock_destination(delivery, request.destination_location)
        with translated(f"create a return of {delivery.number}"):
            shipment = Model.get(RETURN, config=self.config)()
            shipment.customer = delivery.customer
            shipment.warehouse = delivery.warehouse
            shipment.warehouse_storage = storage
            shipment.reference = request.reference
            for sent in moves:
                quantity = wanted.get(str(record_id(sent)))
                if quantity is None:
                    continue
                move = shipment.incoming_moves.new()
                move.product = sent.product
                move.unit = sent.unit
                move.quantity = float(quantity)  # a Float field in Tryton
                move.from_location = sent.to_location
                move.to_location = shipment.warehouse_input
                move.unit_price = sent.unit_price
                move.currency = sent.currency
                move.origin = sent
            shipment.save()
            if request.ticket_id is not None:
                self._stock_note(shipment, {"ticket": request.ticket_id})
        return self._stock_returns([shipment])[0]

    def _stock_open_return(self, return_id: str, reference: str) -> Any | None:
        found = self._stock_record(return_id)
        if found is None:
            return None
        model, record = found
        if model != RETURN or record.state not in _OPEN_RETURN:
            picking = self._stock_picking(model, record)
            raise BackendError(
                f"{picking.reference} is not an open return ({picking.kind.value}, "
                f"{picking.state.value})"
            )
        with translated(f"write the reference of return {record.number}"):
            record.reference = reference
            record.save()
        return record

    @hookimpl
    def aftersales_stock_validate_return(
        self, return_id: str, at: dt.datetime, reference: str
    ) -> Picking | None:
        """Receive then finish the return in Tryton (a move from a customer without an
        origin makes Tryton warn: that warning is acknowledged); `at` is kept on its note."""
        record = self._stock_open_return(return_id, reference)
        if record is None:
            return None
        number = record.number
        if record.state == "draft":
            moves = sorted(record_id(m) for m in record.incoming_moves)
            call_acknowledging(
                self.config,
                lambda: record.click("receive"),
                operation=f"receive return {number}",
                accepted=[warning_name("done", [(MOVE, m) for m in moves])],
            )
        with translated(f"finish return {number}"):
            if record.state != "done":
                record.click("do")
            self._stock_note(record, {"done_at": at.isoformat()})
        return self._stock_returns([record])[0]

    @hookimpl
    def aftersales_stock_cancel_return(self, return_id: str, reference: str) -> Picking | None:
        record = self._stock_open_return(return_id, reference)
        if record is None:
            return None
        with translated(f"cancel return {record.number}"):
            record.click("cancel")
        return self._stock_returns([record])[0]
