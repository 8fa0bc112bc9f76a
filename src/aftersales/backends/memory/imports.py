"""What the reference ERP's imports store (`ImportStore`), on the memory store.

The external ids are a table of their own, `external_ids`: `(table, external id)` → the
id of the document holding it. A unit of work holds the whole store, so looking an
external id up and inserting it is one step no other unit can come between.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from aftersales.models import CouponProgram, Invoice, Match, Payment, Picking

from .store import MemoryStore

__all__ = ["MemoryImports"]

R = TypeVar("R", Invoice, Picking, CouponProgram)


class MemoryImports:
    """Insert-if-absent by external id on `store`."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def insert_invoice(
        self,
        external_id: str,
        invoice: Invoice,
        payments: Sequence[Payment],
        matches: Sequence[Match],
    ) -> Invoice:
        found: Invoice | None = self._holder("invoices", external_id)
        if found is not None:
            return found
        for payment in payments:
            self._store.put("payments", payment.id, payment)
        for match in matches:
            self._store.put("matches", match.id, match)
        return self._insert("invoices", external_id, invoice)

    def insert_picking(self, external_id: str, picking: Picking) -> Picking:
        found: Picking | None = self._holder("pickings", external_id)
        return found or self._insert("pickings", external_id, picking)

    def insert_program(self, external_id: str, program: CouponProgram) -> CouponProgram:
        found: CouponProgram | None = self._holder("programs", external_id)
        return found or self._insert("programs", external_id, program)

    def _holder(self, table: str, external_id: str) -> Any:
        record_id = self._store.get("external_ids", (table, external_id))
        return None if record_id is None else self._store.get(table, record_id)

    def _insert(self, table: str, external_id: str, record: R) -> R:
        self._store.put(table, getattr(record, "id"), record)  # noqa: B009
        self._store.put("external_ids", (table, external_id), record.id)
        return record
