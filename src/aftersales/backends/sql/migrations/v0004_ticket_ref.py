"""Index on tickets.ref, to find a ticket by its number."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    (index,) = (
        i for i in build_metadata(4).tables["tickets"].indexes if i.name == "ix_tickets_ref"
    )
    index.create(conn)
