"""The SQL backend's `Ledger` and `StockLedger`: invoices with their lines, matches,
pickings with their moves and number series in the backend's tables, inside the unit of
work's transaction.

`draw()` on PostgreSQL uses one real `SEQUENCE` per name (`nextval()`: no row lock, numbers
are not given back on rollback), created on first use in a connection of its own, so that
units drawing from it never wait on the one that created it. On SQLite it is the
`sequences` row of `next_number()`: SQLite holds its database write lock for the whole unit
anyway, so a row lock costs nothing more there.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from aftersales.backends.sql import mapping
from aftersales.backends.sql.schema import metadata
from aftersales.backends.sql.statements import MAX_IN, chunked, in_list, padded
from aftersales.models import Invoice, InvoiceKind, Match, Picking
from aftersales.models.queries import InvoiceQuery, PickingQuery

if TYPE_CHECKING:
    from aftersales.backends.sql.backend import SqlBackend

__all__ = ["SqlLedger"]

INVOICES, MATCHES, SEQUENCES = (
    metadata.tables["invoices"],
    metadata.tables["matches"],
    metadata.tables["sequences"],
)
PICKINGS = metadata.tables["pickings"]
LINES, MOVES = metadata.tables["invoice_lines"], metadata.tables["stock_moves"]


def sequence_name(sequence: str) -> str:
    """The PostgreSQL `SEQUENCE` that `draw(sequence)` uses: `aftersales_seq_`, the name in
    lower-case letters, digits and `_` (at most 32), `_` and 8 hex digits of its SHA-256
    (two names that read the same once cleaned still get two sequences).

    Examples:
        >>> sequence_name("WH/RET")
        'aftersales_seq_wh_ret_5a0a3f96'
    """
    clean = re.sub(r"[^a-z0-9]+", "_", sequence.lower()).strip("_")[:32]
    digest = hashlib.sha256(sequence.encode("utf-8")).hexdigest()[:8]
    return f"aftersales_seq_{clean}_{digest}"


class SqlLedger:
    """What the reference accounting and stock store, in `backend`'s database."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend
        self._sequences: set[str] = set()  # PostgreSQL sequences known to exist
        self._creating = threading.Lock()

    def get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        # Read once per unit of work; a locked read remembers the lines it found
        # (see SqlBackend._read_for_update), also when the unit read the invoice before.
        invoice, fresh = self._b._remembered(
            INVOICES, invoice_id, lock, lambda: self._invoice(invoice_id, lock)
        )
        if lock and not fresh and invoice is not None:
            self._b._read_for_update(LINES, (invoice,), mapping.invoice_line_rows)
        return invoice

    def _invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        return self._b._with_children(
            INVOICES,
            invoice_id,
            lock,
            LINES,
            "invoice_id",
            mapping.invoice,
            mapping.invoice_line_rows,
        )

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

    # -- numbering without a row lock (Numbering) -------------------------------------------

    def draw(self, sequence: str) -> int:
        if self._b.db.dialect != "postgresql":
            # SQLite serializes writing units on its database lock: the counter row is free.
            return self.next_number(sequence)
        name = sequence_name(sequence)
        if name not in self._sequences:
            self._create_sequence(sequence, name)
        stmt = self._b._statement(
            ("draw", name), lambda: sa.select(sa.func.nextval(sa.literal(name, sa.String)))
        )
        with self._b.db.connection() as conn:
            return int(stmt.scalar(conn, {}))

    def _create_sequence(self, sequence: str, name: str) -> None:
        """Create the sequence `name` if it does not exist, in a connection of its own that
        commits at once: a unit that created it in its own transaction would hold the
        catalogue's row until it ends, and every other unit drawing would wait for it. It
        starts after what `next_number(sequence)` gave, so a series moved to `draw()`
        goes on without reusing a number."""
        with self._creating:
            if name in self._sequences:
                return
            quoted = self._b.db.engine.dialect.identifier_preparer.quote(name)
            with self._b.db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                given = conn.execute(
                    sa.select(SEQUENCES.c.value).where(SEQUENCES.c.code == sequence)
                ).scalar()
                start = int(given or 0) + 1
                # another process creating it at the same time: it exists, which is all we need
                with contextlib.suppress(sa_exc.IntegrityError):
                    conn.execute(sa.text(f"CREATE SEQUENCE IF NOT EXISTS {quoted} START {start}"))
            self._sequences.add(name)

    def restart_sequences(self, conn: Connection) -> None:
        """Make every sequence of `draw()` start again at 1 (`SqlBackend.reset()`); they
        stay, so that other connections that know them can go on drawing."""
        if self._b.db.dialect != "postgresql":
            return
        names = conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' "
                "AND c.relname LIKE 'aftersales\\_seq\\_%' AND pg_table_is_visible(c.oid)"
            )
        ).scalars()
        for name in list(names):
            conn.execute(sa.select(sa.func.setval(sa.literal(name, sa.String), 1, False)))

    # -- stock (StockLedger) ----------------------------------------------------------------

    def get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        # As get_invoice(): read once per unit of work.
        picking, fresh = self._b._remembered(
            PICKINGS, picking_id, lock, lambda: self._picking(picking_id, lock)
        )
        if lock and not fresh and picking is not None:
            self._b._read_for_update(MOVES, (picking,), mapping.move_rows)
        return picking

    def _picking(self, picking_id: str, lock: bool) -> Picking | None:
        return self._b._with_children(
            PICKINGS, picking_id, lock, MOVES, "picking_id", mapping.picking, mapping.move_rows
        )

    def save_picking(self, picking: Picking) -> Picking:
        with self._b.db.connection() as conn:
            self._b._save_pickings(conn, (picking,))
        return picking

    def find_pickings(self, query: PickingQuery) -> list[Picking]:
        return self._b._find_pickings(query)

    def returns_of(self, delivery_ids: Collection[str]) -> list[Picking]:
        wanted = sorted(delivery_ids)
        found: list[Picking] = []
        for part in chunked(wanted):
            size, params = padded(part)
            found.extend(
                self._b._pickings(
                    ("returns of", size),
                    lambda size=size: in_list(PICKINGS.c.return_of_id, size),  # type: ignore[misc]
                    params,
                )
            )
        return found

    def find_pickings_by_reference(self, reference: str) -> list[Picking]:
        return self._b._pickings(
            "operation",
            lambda: PICKINGS.c.operation_ref == sa.bindparam("ref"),
            {"ref": reference},
        )
