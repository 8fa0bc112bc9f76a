"""Deliveries and return operations (reverse transfers) with their product moves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import attrs

from aftersales.models._fields import (
    aware,
    bool_field,
    decimal,
    enum_of,
    id_field,
    optional,
    shared_decimal,
    text,
    to_tuple,
)

__all__ = [
    "MoveBalance",
    "MoveState",
    "Picking",
    "PickingKind",
    "PickingState",
    "ReturnQuantity",
    "ReturnRequest",
    "Returnable",
    "StockMove",
]


class PickingKind(StrEnum):
    DELIVERY = "delivery"
    RETURN = "return"


class PickingState(StrEnum):
    DRAFT = "draft"
    WAITING = "waiting"
    READY = "ready"
    DONE = "done"
    CANCELLED = "cancelled"


class MoveState(StrEnum):
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class StockMove:
    """A quantity of one product moved by a picking.

    On a return, `origin_move_id` is the delivery move it sends back.
    """

    id: str = attrs.field(validator=id_field)
    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(converter=shared_decimal, validator=decimal(minimum=Decimal(0)))
    state: MoveState = attrs.field(default=MoveState.CONFIRMED, validator=enum_of(MoveState))
    origin_move_id: str | None = attrs.field(default=None, validator=optional(id_field))
    scrapped: bool = attrs.field(default=False, validator=bool_field)


@attrs.frozen(kw_only=True)
class Picking:
    """A warehouse operation: an outgoing delivery or a return of one (RT-7)."""

    id: str = attrs.field(validator=id_field)
    kind: PickingKind = attrs.field(validator=enum_of(PickingKind))
    reference: str = attrs.field(validator=text(max_length=64))
    partner_id: str = attrs.field(validator=id_field)
    source_location: str = attrs.field(validator=text())
    destination_location: str = attrs.field(validator=text())
    state: PickingState = attrs.field(validator=enum_of(PickingState))
    moves: tuple[StockMove, ...] = attrs.field(converter=to_tuple)
    created_at: datetime = attrs.field(validator=aware)
    done_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    origin: str = attrs.field(default="", validator=text(max_length=256, required=False))
    sale_order_id: str | None = attrs.field(default=None, validator=optional(id_field))
    return_of_id: str | None = attrs.field(default=None, validator=optional(id_field))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    #: The reference of the operation that last made or changed the picking (see
    #: `aftersales_stock_find_by_reference`); `None` for pickings no operation touched.
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))

    def move(self, move_id: str) -> StockMove | None:
        return next((m for m in self.moves if m.id == move_id), None)

    @property
    def product_ids(self) -> frozenset[str]:
        return frozenset(m.product_id for m in self.moves)


@attrs.frozen(kw_only=True)
class MoveBalance:
    """What the returns of a delivery took from one of its moves, as the ERP reports it.

    `delivered` is the move's quantity; `returned` the quantities of the moves of **done**
    returns sending it back, `reserved` those of **open** returns (not done, not
    cancelled); cancelled returns and cancelled moves count for nothing (RT-5).
    """

    move_id: str = attrs.field(validator=id_field)
    delivered: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))
    returned: Decimal = attrs.field(default=Decimal(0), validator=decimal(minimum=Decimal(0)))
    reserved: Decimal = attrs.field(default=Decimal(0), validator=decimal(minimum=Decimal(0)))

    @property
    def left(self) -> Decimal:
        """What may still be returned: delivered − returned − reserved, never below 0."""
        return max(self.delivered - self.returned - self.reserved, Decimal(0))


@attrs.frozen(kw_only=True)
class Returnable:
    """A picking and, for each of its moves in order, what its returns took (RT-4, RT-5).

    What the return service's caps are checked against, under the delivery's lock.
    """

    delivery: Picking
    moves: tuple[MoveBalance, ...] = attrs.field(converter=to_tuple)

    def balance(self, move_id: str) -> MoveBalance | None:
        """The balance of the delivery move `move_id`, or `None`."""
        return next((b for b in self.moves if b.move_id == move_id), None)


@attrs.frozen(kw_only=True)
class ReturnQuantity:
    """Send back `quantity` (> 0, in the product's unit) of the delivery move `move_id`."""

    move_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))


@attrs.frozen(kw_only=True)
class ReturnRequest:
    """What the return service asks the ERP to make: a return of `delivery_id` (RT-7).

    `quantities` are in the delivery's move order, each > 0, already checked against the
    caps; `destination_location` `None` is the delivery's source. `ticket_id` is the
    ticket the return is made from, `at` the library's time of the call (an ERP may stamp
    its own) and `reference` identifies the call (see
    `aftersales_stock_find_by_reference`). The ERP gives the return its id, its name and
    its moves' ids.
    """

    delivery_id: str = attrs.field(validator=id_field)
    quantities: tuple[ReturnQuantity, ...] = attrs.field(converter=to_tuple)
    destination_location: str | None = attrs.field(default=None, validator=optional(text()))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(validator=text(max_length=64))
