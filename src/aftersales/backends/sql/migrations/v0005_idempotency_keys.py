"""Idempotency keys scoped to the actor who used them."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # A key of the old table names no actor, so no actor can replay it: drop them all.
    build_metadata(4).tables["idempotency"].drop(conn)
    build_metadata(5).tables["idempotency_keys"].create(conn)
