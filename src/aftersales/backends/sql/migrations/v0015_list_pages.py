"""Indexes of the paged lists: a partner's deliveries (with the product filter's probe of
their moves), a ticket's documents and trail."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata

_NEW = (
    "ix_links_page",
    "ix_messages_page",
    "ix_pickings_page",
    "ix_pickings_page_pg",
    "ix_stock_moves_product_picking",
)


def upgrade(conn: Connection) -> None:
    # Indexes only: no row changes. `create` skips an index meant for another dialect.
    tables = build_metadata(15).tables
    for table in (tables["links"], tables["messages"], tables["pickings"], tables["stock_moves"]):
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name in _NEW:
                index.create(conn)
