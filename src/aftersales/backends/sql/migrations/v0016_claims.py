"""The claims table: a row per ERP document another plugin owns, locked by a unit of work
that claims it (`aftersales_store_claim`)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    build_metadata(16).tables["claims"].create(conn)
