"""Outbox: accepted and refused recipients, and a retry run's claim on an email."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from aftersales.backends.sql.migrations._ddl import add_column
from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Emails already in the outbox keep NULL: no recipient list recorded (read as none),
    # and no claim.
    outbox = build_metadata(6).tables["outbox"]
    for name in ("accepted", "refused", "claim", "lease_until"):
        add_column(conn, outbox.c[name])
