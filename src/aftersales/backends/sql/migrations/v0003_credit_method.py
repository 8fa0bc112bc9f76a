"""Credit method of a credit note (invoices.credit_method)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Existing credit notes keep NULL: a version-2 database never recorded the method, and
    # the refund service reads NULL as "reconcile as PARTIAL" (what version 2 did).
    add_column(conn, build_metadata(3).tables["invoices"].c.credit_method)
