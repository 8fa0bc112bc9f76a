"""Schema changes SQLAlchemy Core has no construct for, written once for every dialect."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["add_column"]


def add_column(conn: Connection, column: sa.Column[object]) -> None:
    """`ALTER TABLE … ADD COLUMN` for `column` (taken from the target version's
    metadata), then the single-column index the metadata gives it, if any.

    Only nullable columns can be added this way: rows already in the table get NULL.
    """
    table = column.table
    if not column.nullable:
        raise ValueError(f"{table.name}.{column.name}: a column added to a table must be nullable")
    preparer = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    conn.execute(
        sa.text(
            f"ALTER TABLE {preparer.format_table(table)} "
            f"ADD COLUMN {preparer.format_column(column)} {kind}"
        )
    )
    for index in table.indexes:
        if [c.name for c in index.columns] == [column.name]:
            index.create(conn)
