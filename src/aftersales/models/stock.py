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
    text,
    to_tuple,
)

__all__ = ["MoveState", "Picking", "PickingKind", "PickingState", "StockMove"]


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
    quantity: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))
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

    def move(self, move_id: str) -> StockMove | None:
        return next((m for m in self.moves if m.id == move_id), None)

    @property
    def product_ids(self) -> frozenset[str]:
        return frozenset(m.product_id for m in self.moves)
