"""The storage the reference ERP needs: plain protocols, not hooks.

A backend that serves the accounting port with the reference ERP
(`ReferenceAccounting`) implements `Ledger` on its own tables; one that serves the stock
port (`ReferenceStock`) implements `StockLedger`. Both shipped backends implement both
on one object. Every call acts inside the current unit of work, as the hooks do.

`Numbering.draw()` is the numbering primitive for references that need no gap-free series
(return names, repair references): unlike `Ledger.next_number()` it takes no row lock, so
two units drawing from one sequence never wait on each other.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from aftersales.models import Invoice, Match, Picking
from aftersales.models.queries import InvoiceQuery, PickingQuery

__all__ = ["Ledger", "Numbering", "StockLedger"]


class Ledger(Protocol):
    """Invoices, credit notes, matches and number series, as stored by one backend."""

    def get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        """The invoice or credit note `invoice_id`, or `None`; `lock` holds it until
        the unit of work ends (`SELECT … FOR UPDATE`)."""

    def save_invoice(self, invoice: Invoice) -> Invoice:
        """Insert or update `invoice` (by id) with its lines; return it."""

    def find_invoices(self, query: InvoiceQuery) -> Sequence[Invoice]:
        """The invoices matching every condition set on `query`, newest first (latest
        `invoice_date`, undated last, then latest `created_at`; of two equally new
        invoices of one customer the one stored last comes first). `product_id` matches
        invoices with at least one line of that product.

        When `query.limit` or `query.after` is set: one page in the paged order instead
        (newest first by `(invoice_date, created_at, id)`, undated last), only the invoices
        after the key `query.after`, at most `query.limit` of them, read by the store as a
        page (not the whole history sorted in Python)."""

    def credit_notes(self, invoice_ids: Collection[str]) -> Sequence[Invoice]:
        """Every credit note whose `reversed_invoice_id` is one of `invoice_ids`, in the
        order they were stored (one round trip for many invoices)."""

    def matches(self, invoice_id: str) -> Sequence[Match]:
        """The matches settling part of `invoice_id`, oldest first."""

    def add_match(self, match: Match) -> Match:
        """Store a new match; return it."""

    def remove_match(self, match_id: str) -> Match | None:
        """Delete the match `match_id`; return it, or `None` when unknown."""

    def next_number(self, series: str) -> int:
        """The next number of `series` (1 for a new one), gap-free: two concurrent units
        never get the same number and a rolled-back unit gives its number back. The row of
        the series stays held until the unit ends, so the caller draws it last."""

    def find_by_reference(self, reference: str) -> Sequence[Invoice]:
        """The invoices and credit notes whose `operation_ref` is `reference`, in the
        order they were stored."""


class Numbering(Protocol):
    """Numbers for references that need no gap-free series (returns, repair orders)."""

    def draw(self, sequence: str) -> int:
        """The next number of `sequence` (1 for a new one), **without any row lock**.

        Two concurrent units never get the same number and never wait on each other for
        it. Numbers may be lost: a unit that rolls back may not give its number back, so a
        series may have gaps (PostgreSQL: a real `SEQUENCE`, `nextval()`). Where the
        database serializes writers anyway (SQLite holds its database write lock for the
        whole unit; the memory store holds the whole store), an ordinary counter is as
        good, and then a rollback does give the number back.

        `sequence` is any text up to 64 characters (`"WH/RET"`, `"RO"`); its numbers
        continue those `Ledger.next_number()` gave under the same name before the
        sequence was first drawn from, so a series can move from one to the other.
        """


class StockLedger(Numbering, Protocol):
    """Deliveries and returns with their moves, as stored by one backend.

    A protocol of its own (not more `Ledger` methods) so that an ERP backend can take the
    reference stock without the reference accounting, and each port's storage stays in
    one place.
    """

    def get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        """The delivery or return `picking_id` with its moves, or `None`; `lock` holds it
        until the unit of work ends (`SELECT … FOR UPDATE`)."""

    def save_picking(self, picking: Picking) -> Picking:
        """Insert or update `picking` (by id) with its moves, in order; return it."""

    def find_pickings(self, query: PickingQuery) -> Sequence[Picking]:
        """The pickings matching every condition set on `query`, newest first (latest
        `done_at`, not done last, then latest `created_at`; of two equally new pickings
        of one partner the one stored last comes first). `product_id` matches pickings
        with at least one move of that product.

        When `query.limit` or `query.after` is set: one page in the paged order instead
        (newest first by `(done_at, created_at, id)`, not done last), only the pickings
        after the key `query.after`, at most `query.limit` of them, read by the store as a
        page (not the whole history sorted in Python)."""

    def returns_of(self, delivery_ids: Collection[str]) -> Sequence[Picking]:
        """Every return whose `return_of_id` is one of `delivery_ids`, each delivery's
        returns in the order they were stored (one round trip for many deliveries)."""

    def find_pickings_by_reference(self, reference: str) -> Sequence[Picking]:
        """The pickings whose `operation_ref` is `reference`, in the order they were
        stored."""
