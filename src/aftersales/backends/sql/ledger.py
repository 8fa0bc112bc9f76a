"""The SQL backend's `Ledger`: invoices with their lines,
matches and number series in the backend's tables, inside the unit of work's transaction."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from aftersales.backends.sql import mapping
from aftersales.backends.sql.schema import metadata
from aftersales.backends.sql.statements import MAX_IN, chunked, in_list, padded
from aftersales.models import Invoice, InvoiceKind, Match
from aftersales.models.queries import InvoiceQuery

if TYPE_CHECKING:
    from aftersales.backends.sql.backend import SqlBackend

__all__ = ["SqlLedger"]

INVOICES, MATCHES, SEQUENCES = (
    metadata.tables["invoices"],
    metadata.tables["matches"],
    metadata.tables["sequences"],
)


class SqlLedger:
    """What the reference accounting stores, in `backend`'s database."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend

    def get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        found = self._b._invoices(
            "id", lambda: INVOICES.c.id == sa.bindparam("id"), {"id": invoice_id}, lock
        )
        return found[0] if found else None

    def save_invoice(self, invoice: Invoice) -> Invoice:
        with self._b.db.connection() as conn:
            self._b._save_invoices(conn, (invoice,))
        return invoice

    def find_invoices(self, query: InvoiceQuery) -> list[Invoice]:
        return self._b._find_invoices(query)

    def credit_notes(self, invoice_ids: Collection[str]) -> list[Invoice]:
        wanted = sorted(invoice_ids)
        found: list[Invoice] = []
        for part in chunked(wanted):
            size, params = padded(part)
            params["kind"] = InvoiceKind.CREDIT_NOTE.value
            found.extend(
                self._b._invoices(
                    ("credit notes", size),
                    lambda size=size: sa.and_(  # type: ignore[misc]
                        in_list(INVOICES.c.reversed_invoice_id, size),
                        INVOICES.c.kind == sa.bindparam("kind"),
                    ),
                    params,
                )
            )
        if len(wanted) > MAX_IN:  # each chunk comes in the order stored
            order = {invoice.id: n for n, invoice in enumerate(found)}
            found.sort(key=lambda invoice: order[invoice.id])
        return found

    def matches(self, invoice_id: str) -> list[Match]:
        return self._b._many(MATCHES, "invoice_id", invoice_id, mapping.match)

    def add_match(self, match: Match) -> Match:
        self._b._save(MATCHES, mapping.match_row(match))
        return match

    def remove_match(self, match_id: str) -> Match | None:
        return self._b._removed(MATCHES, "id", match_id, mapping.match)

    def next_number(self, series: str) -> int:
        # One statement: the row is created or incremented under its row lock, so two
        # concurrent units never get the same number, and a rollback gives it back. The row
        # stays locked until the unit ends: callers draw the number last.
        def build() -> Any:  # a dialect's INSERT … ON CONFLICT
            stmt = self._b._insert(SEQUENCES).values(code=sa.bindparam("code"), value=1)
            return stmt.on_conflict_do_update(
                index_elements=["code"], set_={"value": SEQUENCES.c.value + 1}
            ).returning(SEQUENCES.c.value)

        stmt = self._b._statement(("sequence next",), build)
        with self._b.db.connection() as conn:
            return int(stmt.scalar(conn, {"code": series}))

    def find_by_reference(self, reference: str) -> list[Invoice]:
        return self._b._invoices(
            "operation",
            lambda: INVOICES.c.operation_ref == sa.bindparam("ref"),
            {"ref": reference},
        )
