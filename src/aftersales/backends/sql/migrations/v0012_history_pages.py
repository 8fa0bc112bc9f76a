"""Indexes of the paged history: a page of a customer's invoices, the product filter."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata

_NEW = ("ix_invoice_lines_product_invoice", "ix_invoices_page", "ix_invoices_page_pg")


def upgrade(conn: Connection) -> None:
    # Indexes only: no row changes. `create` skips an index meant for another dialect.
    tables = build_metadata(12).tables
    for table in (tables["invoice_lines"], tables["invoices"]):
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name in _NEW:
                index.create(conn)
