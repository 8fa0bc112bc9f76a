"""Indexes of the paged lists: a partner's deliveries, a ticket's documents and trail."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata

_NEW = ("ix_links_page", "ix_messages_page", "ix_pickings_page", "ix_pickings_page_pg")


def upgrade(conn: Connection) -> None:
    # Indexes only: no row changes. `create` skips an index meant for another dialect.
    tables = build_metadata(15).tables
    for table in (tables["links"], tables["messages"], tables["pickings"]):
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name in _NEW:
                index.create(conn)
