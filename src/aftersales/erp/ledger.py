"""The storage the reference accounting needs: a plain protocol, not hooks.

A backend that serves the accounting port with the reference ERP
(`ReferenceAccounting`) implements these few calls on its
own tables. Every call acts inside the current unit of work, as the hooks do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from aftersales.models import Invoice, Match
from aftersales.models.queries import InvoiceQuery

__all__ = ["Ledger"]


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
