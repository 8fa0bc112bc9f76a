"""Operation reference of a coupon and of a use (coupons / coupon_uses.operation_ref, indexed)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Coupons and uses already stored keep NULL: find_by_reference finds none of them.
    tables = build_metadata(13).tables
    add_column(conn, tables["coupons"].c.operation_ref)
    add_column(conn, tables["coupon_uses"].c.operation_ref)
