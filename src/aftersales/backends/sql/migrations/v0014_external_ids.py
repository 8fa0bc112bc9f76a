"""External ids of imported documents (invoices, pickings, programs; unique per kind)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Documents already stored keep NULL: the host imported none of them. add_column also
    # creates the column's unique index, which insert-if-absent (ON CONFLICT) relies on.
    tables = build_metadata(14).tables
    for name in ("invoices", "pickings", "programs"):
        add_column(conn, tables[name].c.external_id)
