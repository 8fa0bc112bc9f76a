"""Operation reference of a document (invoices.operation_ref, indexed)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Documents already stored keep NULL: no operation of the library is known to have made
    # them (find_by_reference finds none of them). add_column also creates the index.
    add_column(conn, build_metadata(7).tables["invoices"].c.operation_ref)
