"""Operation reference of a picking (pickings.operation_ref, indexed)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Pickings already stored keep NULL: no operation is known to have made them
    # (find_by_reference finds none of them). add_column also creates the index. The
    # PostgreSQL sequences return names are drawn from are made on first use, starting after
    # the numbers the sequences table already gave.
    add_column(conn, build_metadata(9).tables["pickings"].c.operation_ref)
