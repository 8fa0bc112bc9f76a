"""Mail outbox and local delivery log."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    tables = build_metadata(2).tables
    for name in ("outbox", "mail_delivered"):
        tables[name].create(conn)
