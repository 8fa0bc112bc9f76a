"""What a host that has no ERP of its own loads into the reference ERP: import records.

Each record is keyed by the host's own `external_id` (its primary key, as text) and
holds what the host knows of the document; the ERP gives the document its id, its moves'
ids, residual and payment state. Records refuse bad data when they are built, as every
record does; `Imported` is what an import answers for each record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs

from aftersales.errors import InvalidInput
from aftersales.formatting import show
from aftersales.models._fields import (
    a_date,
    aware,
    bool_field,
    currency_code,
    decimal,
    enum_of,
    id_field,
    money_of,
    optional,
    text,
    to_tuple,
)
from aftersales.models.accounting import Invoice, InvoiceLine
from aftersales.models.loyalty import CouponProgram, CouponRule, ProgramTrigger, ProgramType, Reward
from aftersales.models.money import Money
from aftersales.models.products import LineAmounts
from aftersales.models.stock import Picking

__all__ = [
    "MAX_IMPORT_BATCH",
    "DeliveryImport",
    "Imported",
    "InvoiceImport",
    "MoveImport",
    "PaymentImport",
    "ProgramImport",
]

#: The most records one import call takes (one unit of work holds them all).
MAX_IMPORT_BATCH = 1000

R = TypeVar("R", Invoice, Picking, CouponProgram)


def _records_of(kind: type[Any], field: str) -> Any:
    def validate(_inst: Any, _a: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
        for n, item in enumerate(value):
            if not isinstance(item, kind):
                raise InvalidInput(f"{field}[{n}]", item, f"expected {kind.__name__} records")

    return validate


@attrs.frozen(kw_only=True)
class PaymentImport:
    """A payment the host recorded against an invoice: `amount` on `paid_at`."""

    amount: Money = attrs.field(validator=money_of(positive=True))
    paid_at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(default="", validator=text(max_length=256, required=False))


@attrs.frozen(kw_only=True)
class InvoiceImport:
    """A posted customer invoice of the host: its number and date, lines (with their
    taxes) and the payments made against it.

    Every line and payment is in `currency`; the payments add up to at most the total.
    `journal` is the journal its credit notes are numbered in (`None`: the default one).
    """

    external_id: str = attrs.field(validator=id_field)
    customer_id: str = attrs.field(validator=id_field)
    number: str = attrs.field(validator=text(max_length=64))
    invoice_date: date = attrs.field(validator=a_date)
    currency: str = attrs.field(validator=currency_code)
    lines: tuple[InvoiceLine, ...] = attrs.field(
        converter=to_tuple, validator=_records_of(InvoiceLine, "lines")
    )
    payments: tuple[PaymentImport, ...] = attrs.field(
        default=(), converter=to_tuple, validator=_records_of(PaymentImport, "payments")
    )
    journal: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise InvalidInput("lines", self.lines, "an invoice needs at least one line")
        for n, line in enumerate(self.lines):
            if line.unit_price.currency != self.currency:
                raise InvalidInput(
                    f"lines[{n}].unit_price", line.unit_price, f"must be in {self.currency}"
                )
        for n, payment in enumerate(self.payments):
            if payment.amount.currency != self.currency:
                raise InvalidInput(
                    f"payments[{n}].amount", payment.amount, f"must be in {self.currency}"
                )
        paid = Money.sum((payment.amount for payment in self.payments), self.currency)
        total = LineAmounts.sum((line.amounts for line in self.lines), self.currency).total
        if paid > total:
            raise InvalidInput(
                "payments", paid, f"add up to {show(paid)}, more than the total {show(total)}"
            )

    def differences(self, invoice: Invoice) -> tuple[str, ...]:
        """The fields of this record that `invoice` (stored under its external id) does not
        hold: what the ERP never changes once an invoice is posted. Payments are not
        compared: a refund takes them off the invoice."""
        stored = {
            "customer_id": invoice.customer_id,
            "number": invoice.number,
            "invoice_date": invoice.invoice_date,
            "currency": invoice.currency,
            "lines": invoice.lines,
            "journal": invoice.journal,
        }
        return tuple(name for name, value in stored.items() if getattr(self, name) != value)


@attrs.frozen(kw_only=True)
class MoveImport:
    """`quantity` (more than zero, in the product's unit) of `product_id` delivered."""

    product_id: str = attrs.field(validator=id_field)
    quantity: Decimal = attrs.field(validator=decimal(positive=True))


@attrs.frozen(kw_only=True)
class DeliveryImport:
    """A delivery the host made to `partner_id`, done at `done_at`, named `reference`."""

    external_id: str = attrs.field(validator=id_field)
    partner_id: str = attrs.field(validator=id_field)
    reference: str = attrs.field(validator=text(max_length=64))
    moves: tuple[MoveImport, ...] = attrs.field(
        converter=to_tuple, validator=_records_of(MoveImport, "moves")
    )
    done_at: datetime = attrs.field(validator=aware)
    origin: str = attrs.field(default="", validator=text(max_length=256, required=False))
    source_location: str = attrs.field(default="WH/Stock", validator=text())
    destination_location: str = attrs.field(default="Partners/Customers", validator=text())

    def __attrs_post_init__(self) -> None:
        if not self.moves:
            raise InvalidInput("moves", self.moves, "a delivery needs at least one move")

    def differences(self, picking: Picking) -> tuple[str, ...]:
        """The fields of this record that `picking` (stored under its external id) does
        not hold; its returns never change a done delivery."""
        stored = {
            "partner_id": picking.partner_id,
            "reference": picking.reference,
            "moves": tuple(
                MoveImport(product_id=m.product_id, quantity=m.quantity) for m in picking.moves
            ),
            "done_at": picking.done_at,
            "origin": picking.origin,
            "source_location": picking.source_location,
            "destination_location": picking.destination_location,
        }
        return tuple(name for name, value in stored.items() if getattr(self, name) != value)


@attrs.frozen(kw_only=True)
class ProgramImport:
    """A coupon program of the host, with the fields of a `CouponProgram` but its id."""

    external_id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    currency: str = attrs.field(validator=currency_code)
    rewards: tuple[Reward, ...] = attrs.field(converter=to_tuple)
    rules: tuple[CouponRule, ...] = attrs.field(default=(), converter=to_tuple)
    active: bool = attrs.field(default=True, validator=bool_field)
    program_type: ProgramType = attrs.field(
        default=ProgramType.COUPONS, validator=enum_of(ProgramType)
    )
    trigger: ProgramTrigger = attrs.field(
        default=ProgramTrigger.CODE, validator=enum_of(ProgramTrigger)
    )
    date_to: date | None = attrs.field(default=None, validator=optional(a_date))
    max_usage: int | None = None
    code: str | None = None

    def __attrs_post_init__(self) -> None:
        self.program("program-check")  # the program's own checks, once, when built

    def program(self, program_id: str) -> CouponProgram:
        """The program this record describes, with the ERP's id `program_id`."""
        fields = attrs.asdict(self, recurse=False)
        del fields["external_id"]
        return CouponProgram(id=program_id, **fields)

    def differences(self, program: CouponProgram) -> tuple[str, ...]:
        """The fields of this record that `program` (stored under its external id) does
        not hold."""
        return tuple(
            name
            for name, value in attrs.asdict(self.program(program.id), recurse=False).items()
            if getattr(program, name) != value
        )


@attrs.frozen(kw_only=True)
class Imported(Generic[R]):
    """What an import answers for one record: the library's `record` stored under
    `external_id`, and whether this call `created` it (`False`: it was there already)."""

    external_id: str
    record: R
    created: bool
