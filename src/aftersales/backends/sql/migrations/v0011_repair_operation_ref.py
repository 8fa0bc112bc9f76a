"""Operation reference of a repair order (repairs.operation_ref, indexed)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Orders already stored keep NULL: find_by_reference finds none of them.
    add_column(conn, build_metadata(11).tables["repairs"].c.operation_ref)
