"""The memory backend's `Ledger` and `StockLedger`: invoices, matches, pickings and
number series in the store's tables, under the unit of work's undo log."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from aftersales.models import Invoice, InvoiceKind, Match, Picking
from aftersales.models.queries import InvoiceQuery, PickingQuery, history_after, paged

from .store import MemoryStore

__all__ = ["MemoryLedger"]

T = TypeVar("T")


def _newest(items: Iterable[T], key: Callable[[T], tuple[Any, ...]]) -> list[T]:
    # Newest first; among equal keys the later-inserted record comes first (the sort is
    # stable, so sorting the reversed insertion order keeps later records ahead).
    later_first = list(items)[::-1]
    return sorted(later_first, key=key, reverse=True)


def _invoice_order(invoice: Invoice) -> tuple[date, datetime]:
    return (invoice.invoice_date or date.min, invoice.created_at)


_EARLIEST = datetime.min.replace(year=1)


def _picking_order(picking: Picking) -> tuple[datetime, datetime]:
    return (
        picking.done_at or _EARLIEST.replace(tzinfo=picking.created_at.tzinfo),
        picking.created_at,
    )


class MemoryLedger:
    """What the reference accounting and stock store, on `store`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        # A unit of work holds the whole store: every read is as good as locked.
        invoice: Invoice | None = self.store.get("invoices", invoice_id)
        return invoice

    def save_invoice(self, invoice: Invoice) -> Invoice:
        self.store.put("invoices", invoice.id, invoice)
        return invoice

    def find_invoices(self, query: InvoiceQuery) -> list[Invoice]:
        def match(inv: Invoice) -> bool:
            return (
                (query.kind is None or inv.kind is query.kind)
                and (query.state is None or inv.state is query.state)
                and (query.sale_order_id is None or inv.sale_order_id == query.sale_order_id)
                and (query.product_id is None or query.product_id in inv.product_ids)
            )

        if query.limit is not None or query.after is not None:
            return self._page("invoices", "customer page", query.customer_ids, query, match)
        candidates: list[Invoice] = []
        for customer in sorted(query.customer_ids):
            candidates.extend(self.store.by_index("invoices", "customer", customer))
        return _newest(filter(match, candidates), _invoice_order)

    def _page(
        self,
        table: str,
        index: str,
        owners: Iterable[str],
        query: InvoiceQuery | PickingQuery,
        match: Callable[[Any], bool],
    ) -> list[Any]:
        """One page of `query` in the paged order: each owner's newest records after the
        key along the store's sorted index (what it walks, not the owner's history),
        merged."""
        before = history_after(query)
        found: list[Any] = []
        for owner in sorted(owners):
            found.extend(
                self.store.newest(
                    table, index, owner, before=before, limit=query.limit, match=match
                )
            )
        return paged(found, query)

    def credit_notes(self, invoice_ids: Collection[str]) -> list[Invoice]:
        notes: list[Invoice] = []
        for invoice_id in invoice_ids:
            notes.extend(
                n
                for n in self.store.by_index("invoices", "reversed", invoice_id)
                if n.kind is InvoiceKind.CREDIT_NOTE
            )
        return notes

    def matches(self, invoice_id: str) -> list[Match]:
        return self.store.by_index("matches", "invoice", invoice_id)

    def add_match(self, match: Match) -> Match:
        self.store.put("matches", match.id, match)
        return match

    def remove_match(self, match_id: str) -> Match | None:
        removed: Match | None = self.store.delete("matches", match_id)
        return removed

    def next_number(self, series: str) -> int:
        with self.store.lock:
            number = int(self.store.get("sequences", series) or 0) + 1
            self.store.put("sequences", series, number)
        return number

    def find_by_reference(self, reference: str) -> list[Invoice]:
        return self.store.by_index("invoices", "operation", reference)

    # -- numbering without a row lock (Numbering) -------------------------------------------

    def draw(self, sequence: str) -> int:
        # A unit of work holds the whole store, so a counter under the undo log is as good
        # as a sequence: the same counter as next_number(), given back on rollback.
        return self.next_number(sequence)

    # -- stock (StockLedger) ----------------------------------------------------------------

    def get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        picking: Picking | None = self.store.get("pickings", picking_id)
        return picking

    def save_picking(self, picking: Picking) -> Picking:
        self.store.put("pickings", picking.id, picking)
        return picking

    def find_pickings(self, query: PickingQuery) -> list[Picking]:
        def match(p: Picking) -> bool:
            return (
                (query.kind is None or p.kind is query.kind)
                and (query.state is None or p.state is query.state)
                and (query.sale_order_id is None or p.sale_order_id == query.sale_order_id)
                and (query.product_id is None or query.product_id in p.product_ids)
            )

        if query.limit is not None or query.after is not None:
            return self._page("pickings", "partner page", query.partner_ids, query, match)
        candidates: list[Picking] = []
        for partner in sorted(query.partner_ids):
            candidates.extend(self.store.by_index("pickings", "partner", partner))
        return _newest(filter(match, candidates), _picking_order)

    def returns_of(self, delivery_ids: Collection[str]) -> list[Picking]:
        found: list[Picking] = []
        for delivery_id in delivery_ids:
            found.extend(self.store.by_index("pickings", "return_of", delivery_id))
        return found

    def find_pickings_by_reference(self, reference: str) -> list[Picking]:
        return self.store.by_index("pickings", "operation", reference)
