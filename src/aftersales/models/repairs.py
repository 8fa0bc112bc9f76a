"""Repair orders with their parts and operations (RP-1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    MAX_TEXT,
    a_date,
    aware,
    decimal,
    enum_of,
    id_field,
    money_of,
    optional,
    text,
    to_tuple,
)
from aftersales.models.accounting import Invoice
from aftersales.models.money import Money
from aftersales.models.products import Tax, line_amount

__all__ = [
    "InvoiceMethod",
    "OperationLine",
    "PartAction",
    "PartLine",
    "RepairAction",
    "RepairInvoiced",
    "RepairOperation",
    "RepairOrder",
    "RepairPart",
    "RepairRequest",
    "RepairState",
]


class RepairState(StrEnum):
    """States of a repair order (RP-8)."""

    DRAFT = "draft"
    CONFIRMED = "confirmed"
    TO_INVOICE = "to_invoice"
    READY = "ready"
    UNDER_REPAIR = "under_repair"
    DONE = "done"
    CANCELLED = "cancelled"


class RepairAction(StrEnum):
    """What can be done to a repair order (RP-8), as named in refusals; the state moves
    among them are what the repair port's `transition` performs."""

    CONFIRM = "confirm"
    START = "start"
    END = "end"
    CREATE_INVOICE = "create invoice"
    CANCEL = "cancel"
    RESET_TO_DRAFT = "reset to draft"
    UPDATE = "update"
    DELETE = "delete"


class InvoiceMethod(StrEnum):
    """When a repair is invoiced (RP-4)."""

    NONE = "none"
    BEFORE_REPAIR = "before_repair"
    AFTER_REPAIR = "after_repair"


class PartAction(StrEnum):
    """A part line adds a product to the repaired item or removes one from it."""

    ADD = "add"
    REMOVE = "remove"


@attrs.frozen(kw_only=True)
class RepairPart:
    """A part line: add or remove `quantity` of a product (RP-5)."""

    action: PartAction = attrs.field(validator=enum_of(PartAction))
    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(validator=decimal(positive=True))
    unit_price: Money = attrs.field(validator=money_of(non_negative=True))
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=to_tuple, validator=line_amount)
    lot: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))


@attrs.frozen(kw_only=True)
class RepairOperation:
    """An operation: a service line with quantity and price (RP-5)."""

    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(validator=decimal(positive=True))
    unit_price: Money = attrs.field(validator=money_of(non_negative=True))
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=to_tuple, validator=line_amount)
    description: str = attrs.field(default="", validator=text(required=False))


@attrs.frozen(kw_only=True)
class RepairOrder:
    """A repair order created from a ticket (RP-1).

    `internal_notes` are for the repair team only; `quotation_notes` are printed on the
    quotation sent to the customer (RP-6).
    """

    id: str = attrs.field(validator=id_field)
    reference: str = attrs.field(validator=text(max_length=64))
    product_id: str = attrs.field(validator=id_field)
    customer_id: str = attrs.field(validator=id_field)
    currency: str = attrs.field(validator=text(max_length=3))
    created_at: datetime = attrs.field(validator=aware)
    state: RepairState = attrs.field(default=RepairState.DRAFT, validator=enum_of(RepairState))
    quantity: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))
    lot: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    description: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    sale_order_id: str | None = attrs.field(default=None, validator=optional(id_field))
    return_id: str | None = attrs.field(default=None, validator=optional(id_field))
    invoice_method: InvoiceMethod = attrs.field(
        default=InvoiceMethod.NONE, validator=enum_of(InvoiceMethod)
    )
    invoice_address_id: str | None = attrs.field(default=None, validator=optional(id_field))
    parts: tuple[RepairPart, ...] = attrs.field(default=(), converter=to_tuple)
    operations: tuple[RepairOperation, ...] = attrs.field(default=(), converter=to_tuple)
    internal_notes: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    quotation_notes: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    responsible_user_id: str | None = attrs.field(default=None, validator=optional(id_field))
    scheduled_date: date | None = attrs.field(default=None, validator=optional(a_date))
    warranty_expiration: date | None = attrs.field(default=None, validator=optional(a_date))
    invoice_id: str | None = attrs.field(default=None, validator=optional(id_field))
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))


@attrs.frozen(kw_only=True)
class RepairRequest:
    """The content of a repair order as the helpdesk asks the ERP for it (RP-1 … RP-5).

    The repair service has checked and looked up every field (the product and the
    customer exist, the lines carry their prices and taxes, the invoice address is set
    when invoiced); the ERP gives the order its id, its reference and its state
    (`aftersales_repair_create_repair`), or replaces an order's editable fields with these
    (`aftersales_repair_update_repair`). `at` is the library's time of the call.
    """

    product_id: str = attrs.field(validator=id_field)
    customer_id: str = attrs.field(validator=id_field)
    currency: str = attrs.field(validator=text(max_length=3))
    at: datetime = attrs.field(validator=aware)
    quantity: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))
    lot: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    description: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    sale_order_id: str | None = attrs.field(default=None, validator=optional(id_field))
    return_id: str | None = attrs.field(default=None, validator=optional(id_field))
    invoice_method: InvoiceMethod = attrs.field(
        default=InvoiceMethod.NONE, validator=enum_of(InvoiceMethod)
    )
    invoice_address_id: str | None = attrs.field(default=None, validator=optional(id_field))
    parts: tuple[RepairPart, ...] = attrs.field(default=(), converter=to_tuple)
    operations: tuple[RepairOperation, ...] = attrs.field(default=(), converter=to_tuple)
    internal_notes: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    quotation_notes: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    responsible_user_id: str | None = attrs.field(default=None, validator=optional(id_field))
    scheduled_date: date | None = attrs.field(default=None, validator=optional(a_date))
    warranty_expiration: date | None = attrs.field(default=None, validator=optional(a_date))


def _taxes(value: Iterable[Tax] | None) -> tuple[Tax, ...] | None:
    if value is None:
        return None
    taxes = to_tuple(value)
    for tax in taxes:
        if not isinstance(tax, Tax):
            raise InvalidInput("taxes", tax, "expected Tax records")
    return taxes


@attrs.frozen(kw_only=True)
class PartLine:
    """A part line as a caller asks for it (RP-5).

    `unit_price` and `taxes` default to the product's (`None`); give them to override.
    The repair service turns it into a `RepairPart`.
    """

    action: PartAction = attrs.field(validator=enum_of(PartAction))
    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(validator=decimal(positive=True))
    unit_price: Money | None = attrs.field(
        default=None, validator=optional(money_of(non_negative=True))
    )
    taxes: tuple[Tax, ...] | None = attrs.field(
        default=None, converter=_taxes, validator=line_amount
    )
    lot: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))


@attrs.frozen(kw_only=True)
class OperationLine:
    """An operation (a service line) as a caller asks for it (RP-5).

    `unit_price` and `taxes` default to the service product's (`None`); the
    description defaults to the product's name. The repair service turns it into a
    `RepairOperation`.
    """

    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))
    unit_price: Money | None = attrs.field(
        default=None, validator=optional(money_of(non_negative=True))
    )
    taxes: tuple[Tax, ...] | None = attrs.field(
        default=None, converter=_taxes, validator=line_amount
    )
    description: str = attrs.field(default="", validator=text(required=False))


@attrs.frozen(kw_only=True)
class RepairInvoiced:
    """What invoicing a repair returns: the repair in its new state and its invoice (RP-9)."""

    repair: RepairOrder
    invoice: Invoice
