"""Initial schema: helpdesk, accounting, loyalty, stock, repair, project, audit."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    build_metadata(1).create_all(conn)
