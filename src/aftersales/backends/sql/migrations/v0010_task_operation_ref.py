"""Operation reference of a field-service task (tasks.operation_ref, indexed)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Tasks already stored keep NULL: no operation of the library is known to have made them.
    add_column(conn, build_metadata(10).tables["tasks"].c.operation_ref)
