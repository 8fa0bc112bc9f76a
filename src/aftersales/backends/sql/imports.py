"""What the reference ERP's imports store (`ImportStore`), in the SQL backend's tables.

Each document's row is inserted with its external id by `INSERT … ON CONFLICT
(external_id) DO NOTHING` (the dialect's insert, SQLite and PostgreSQL alike): the unique
index decides, so of concurrent units inserting one external id exactly one stores it — on
PostgreSQL the others wait for it to commit, then insert nothing — and the ones that
inserted nothing read the stored document back whole. The row's children (an invoice's
lines, payments and matches, a picking's moves) are inserted only after the row, in the same
unit of work: no other unit ever reads a document without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from aftersales.backends.sql import mapping
from aftersales.backends.sql.mapping import Row
from aftersales.backends.sql.schema import metadata
from aftersales.errors import ConflictError
from aftersales.formatting import show
from aftersales.models import CouponProgram, Invoice, Match, Payment, Picking

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from aftersales.backends.sql.backend import SqlBackend

__all__ = ["SqlImports"]

R = TypeVar("R")

_t = metadata.tables
INVOICES, LINES, PAYMENTS, MATCHES = (
    _t["invoices"],
    _t["invoice_lines"],
    _t["payments"],
    _t["matches"],
)
PICKINGS, MOVES, PROGRAMS = _t["pickings"], _t["stock_moves"], _t["programs"]


class SqlImports:
    """Insert-if-absent by external id in `backend`'s database."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend

    def insert_invoice(
        self,
        external_id: str,
        invoice: Invoice,
        payments: Sequence[Payment],
        matches: Sequence[Match],
    ) -> Invoice:
        def children(conn: Connection) -> None:
            self._rows(conn, LINES, mapping.invoice_line_rows(invoice))
            self._rows(conn, PAYMENTS, [mapping.payment_row(p) for p in payments])
            self._rows(conn, MATCHES, [mapping.match_row(m) for m in matches])

        row = mapping.invoice_row(invoice)
        return self._insert(INVOICES, external_id, row, children, invoice, self._invoice)

    def insert_picking(self, external_id: str, picking: Picking) -> Picking:
        def children(conn: Connection) -> None:
            self._rows(conn, MOVES, mapping.move_rows(picking))

        row = mapping.picking_row(picking)
        return self._insert(PICKINGS, external_id, row, children, picking, self._picking)

    def insert_program(self, external_id: str, program: CouponProgram) -> CouponProgram:
        row = mapping.program_row(program)
        return self._insert(PROGRAMS, external_id, row, lambda _conn: None, program, self._program)

    def _insert(
        self,
        table: sa.Table,
        external_id: str,
        row: Row,
        children: Callable[[Connection], None],
        record: R,
        stored: Callable[[str], R | None],
    ) -> R:
        """Insert `row` under `external_id` and then its `children`; or, when the external
        id is taken, the record `stored` reads back under it."""
        values = {**row, "external_id": external_id}
        stmt = self._b._statement(
            ("import", table.name, tuple(values)),
            lambda: self._b._values(table, tuple(values)).on_conflict_do_nothing(
                index_elements=["external_id"]
            ),
        )
        with self._b.db.connection() as conn:
            if stmt.run(conn, values) == 1:
                children(conn)
                return record
        found = stored(external_id)
        if found is None:  # not committed by its holder after all: a new attempt inserts it
            raise ConflictError(f"{table.name} {show(external_id)} changed while it was imported")
        return found

    def _rows(self, conn: Connection, table: sa.Table, rows: Sequence[Row]) -> None:
        if rows:
            columns = tuple(rows[0])
            insert = self._b._statement(
                ("insert", table.name, columns), lambda: self._b._values(table, columns)
            )
            insert.run_many(conn, rows)

    def _invoice(self, external_id: str) -> Invoice | None:
        found = self._b._invoices(
            "external", lambda: INVOICES.c.external_id == sa.bindparam("ext"), {"ext": external_id}
        )
        return found[0] if found else None

    def _picking(self, external_id: str) -> Picking | None:
        found = self._b._pickings(
            "external", lambda: PICKINGS.c.external_id == sa.bindparam("ext"), {"ext": external_id}
        )
        return found[0] if found else None

    def _program(self, external_id: str) -> CouponProgram | None:
        return self._b._one(PROGRAMS, "external_id", external_id, mapping.program)
