"""The SQL backend's `RepairStorage`: repair orders in
the backend's `repairs` table, inside the unit of work's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftersales.backends.sql import mapping
from aftersales.backends.sql.schema import metadata
from aftersales.models import RepairOrder

if TYPE_CHECKING:
    from aftersales.backends.sql.backend import SqlBackend

__all__ = ["SqlRepairs"]

REPAIRS = metadata.tables["repairs"]


class SqlRepairs:
    """What the reference repairs store, in `backend`'s database; numbers come from its
    ledger's series."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend

    def get_repair(self, repair_id: str, lock: bool) -> RepairOrder | None:
        return self._b._one(REPAIRS, "id", repair_id, mapping.repair, lock)

    def save_repair(self, repair: RepairOrder) -> RepairOrder:
        row = mapping.repair_row(repair)
        upsert = self._b._upsert(REPAIRS, tuple(row))
        with self._b.db.connection() as conn:
            self._b.db.unique(
                conn, lambda: upsert.run(conn, row), "repair reference", repair.reference
            )
        return repair

    def delete_repair(self, repair_id: str) -> RepairOrder | None:
        return self._b._removed(REPAIRS, "id", repair_id, mapping.repair)

    def draw(self, sequence: str) -> int:
        return self._b.ledger.draw(sequence)

    def find_repairs(self, reference: str) -> list[RepairOrder]:
        return self._b._many(REPAIRS, "operation_ref", reference, mapping.repair)
