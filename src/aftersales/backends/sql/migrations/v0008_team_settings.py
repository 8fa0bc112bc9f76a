"""Team after-sales settings: moved from the helpdesk's teams to the library's team_settings."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aftersales.backends.sql.schema import build_metadata


def upgrade(conn: Connection) -> None:
    # Every team keeps its toggles and its FSM project: one team_settings row each (a team
    # with every service off and no project needs none, but keeping one changes nothing).
    before = build_metadata(7).tables["teams"]
    settings = build_metadata(8).tables["team_settings"]
    settings.create(conn)
    conn.execute(
        sa.insert(settings).from_select(
            ["team_id", "services", "fsm_project_id"],
            sa.select(before.c.id, before.c.services, before.c.fsm_project_id).order_by(
                before.c.seq
            ),
        )
    )
    preparer = conn.dialect.identifier_preparer
    for column in ("services", "fsm_project_id"):
        conn.execute(
            sa.text(
                f"ALTER TABLE {preparer.format_table(before)} DROP COLUMN {preparer.quote(column)}"
            )
        )
