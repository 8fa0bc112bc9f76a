"""The reference ERP's imports: a host's existing invoices, deliveries and programs, once each.

A host that has no ERP of its own and uses the reference ERP loads what it already has
through `app.imports` (`aftersales.services.imports`). What the ERP does with each import
record lives here, once: give the document its ids, match the invoice's payments and settle
it (`aftersales.erp.accounting.pay()`, the rule the builder uses too), mark the delivery and
its moves done, and store each one only when no document of its kind holds its external id
yet (`ImportStore`, which the memory and the SQL backends implement on their tables: the SQL
one with `INSERT … ON CONFLICT DO NOTHING` on a unique `external_id`). `ImportPort` serves
the `aftersales_imports_*` hooks from it.

Records are stored in the order of their external ids, whatever order they are given in, so
two units importing overlapping batches at once take the unique keys in the same order and
never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from aftersales.erp.accounting import pay
from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import (
    CouponProgram,
    Invoice,
    InvoiceKind,
    InvoiceState,
    Match,
    MoveState,
    Payment,
    Picking,
    PickingKind,
    PickingState,
    StockMove,
)
from aftersales.models.imports import (
    DeliveryImport,
    Imported,
    InvoiceImport,
    ProgramImport,
)

__all__ = ["ImportPort", "ImportStore", "ReferenceImports"]

R = TypeVar("R", Invoice, Picking, CouponProgram)


class ImportStore(Protocol):
    """Insert-if-absent by external id, as stored by one backend, inside the unit of work.

    Each call stores its document (with everything that belongs to it) only when no
    document of its kind holds `external_id`, and returns the document that holds it
    afterwards: the one given when it was stored, else the one already there, read back
    whole. Concurrent units inserting one external id make one document; the others get it.
    """

    def insert_invoice(
        self,
        external_id: str,
        invoice: Invoice,
        payments: Sequence[Payment],
        matches: Sequence[Match],
    ) -> Invoice:
        """`invoice` with its lines, `payments` and their `matches`, unless an invoice
        holds `external_id`."""

    def insert_picking(self, external_id: str, picking: Picking) -> Picking:
        """`picking` with its moves, unless a picking holds `external_id`."""

    def insert_program(self, external_id: str, program: CouponProgram) -> CouponProgram:
        """`program`, unless a program holds `external_id`."""


class ReferenceImports:
    """The reference ERP's imports over `store`; `ids` makes a new record id from a kind
    (`"inv"`, `"pay"`, `"match"`, `"pick"`, `"move"`, `"program"`; default `new_id()`).

    It trusts the import service's checks (the customers and products exist, one record
    per external id in a batch) and answers, for each record in the order given, the
    document stored under its external id and whether this call created it.
    """

    def __init__(self, store: ImportStore, *, ids: Callable[[str], str] = new_id) -> None:
        self.store = store
        self._ids = ids

    def invoices(self, records: Sequence[InvoiceImport], at: datetime) -> list[Imported[Invoice]]:
        def insert(record: InvoiceImport) -> tuple[Invoice, Invoice]:
            invoice, payments = self._invoice(record, at)
            invoice, matches = pay(invoice, payments, at, self._ids)
            return invoice, self.store.insert_invoice(
                record.external_id, invoice, payments, matches
            )

        return _each(records, insert)

    def deliveries(
        self, records: Sequence[DeliveryImport], at: datetime
    ) -> list[Imported[Picking]]:
        def insert(record: DeliveryImport) -> tuple[Picking, Picking]:
            picking = self._delivery(record, at)
            return picking, self.store.insert_picking(record.external_id, picking)

        return _each(records, insert)

    def programs(
        self, records: Sequence[ProgramImport], at: datetime
    ) -> list[Imported[CouponProgram]]:
        def insert(record: ProgramImport) -> tuple[CouponProgram, CouponProgram]:
            program = record.program(self._ids("program"))
            return program, self.store.insert_program(record.external_id, program)

        return _each(records, insert)

    def _invoice(self, record: InvoiceImport, at: datetime) -> tuple[Invoice, list[Payment]]:
        invoice = Invoice(
            id=self._ids("inv"),
            kind=InvoiceKind.INVOICE,
            customer_id=record.customer_id,
            currency=record.currency,
            lines=record.lines,
            state=InvoiceState.POSTED,
            created_at=at,
            invoice_date=record.invoice_date,
            number=record.number,
            journal=record.journal,
        )
        payments = [
            Payment(
                id=self._ids("pay"),
                customer_id=record.customer_id,
                amount=payment.amount,
                paid_at=payment.paid_at,
                reference=payment.reference or f"Payment of {record.number}",
            )
            for payment in record.payments
        ]
        return invoice, payments

    def _delivery(self, record: DeliveryImport, at: datetime) -> Picking:
        return Picking(
            id=self._ids("pick"),
            kind=PickingKind.DELIVERY,
            reference=record.reference,
            partner_id=record.partner_id,
            source_location=record.source_location,
            destination_location=record.destination_location,
            state=PickingState.DONE,
            moves=tuple(
                StockMove(
                    id=self._ids("move"),
                    product_id=move.product_id,
                    quantity=move.quantity,
                    state=MoveState.DONE,
                )
                for move in record.moves
            ),
            created_at=at,
            done_at=record.done_at,
            origin=record.origin,
        )


Record = TypeVar("Record", InvoiceImport, DeliveryImport, ProgramImport)


def _each(records: Sequence[Record], insert: Callable[[Record], tuple[R, R]]) -> list[Imported[R]]:
    """`insert` each record in the order of the external ids; the outcomes in the order
    of `records`."""
    done: dict[str, Imported[R]] = {}
    for record in sorted(records, key=lambda r: r.external_id):
        made, stored = insert(record)
        done[record.external_id] = Imported(
            external_id=record.external_id, record=stored, created=stored.id == made.id
        )
    return [done[record.external_id] for record in records]


class ImportPort:
    """Serves the import port (`aftersales_imports_*`) from `self.imports`.

    A backend inherits it and sets `imports` to a `ReferenceImports` over its
    `ImportStore`.
    """

    imports: ReferenceImports

    @hookimpl
    def aftersales_imports_invoices(
        self, records: Sequence[InvoiceImport], at: datetime
    ) -> list[Imported[Invoice]]:
        return self.imports.invoices(records, at)

    @hookimpl
    def aftersales_imports_deliveries(
        self, records: Sequence[DeliveryImport], at: datetime
    ) -> list[Imported[Picking]]:
        return self.imports.deliveries(records, at)

    @hookimpl
    def aftersales_imports_programs(
        self, records: Sequence[ProgramImport], at: datetime
    ) -> list[Imported[CouponProgram]]:
        return self.imports.programs(records, at)
