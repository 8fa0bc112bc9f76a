"""The memory backend's `RepairStorage`: repair orders
in the store's table, under the unit of work's undo log."""

from __future__ import annotations

from aftersales.errors import DuplicateKey
from aftersales.models import RepairOrder

from .ledger import MemoryLedger
from .store import MemoryStore

__all__ = ["MemoryRepairs"]


class MemoryRepairs:
    """What the reference repairs store, on `store`; numbers come from `ledger`'s series."""

    def __init__(self, store: MemoryStore, ledger: MemoryLedger) -> None:
        self.store = store
        self.ledger = ledger

    def get_repair(self, repair_id: str, lock: bool) -> RepairOrder | None:
        # A unit of work holds the whole store: every read is as good as locked.
        repair: RepairOrder | None = self.store.get("repairs", repair_id)
        return repair

    def save_repair(self, repair: RepairOrder) -> RepairOrder:
        with self.store.lock:
            holders: list[RepairOrder] = self.store.by_index(
                "repairs", "reference", repair.reference
            )
            if any(holder.id != repair.id for holder in holders):
                raise DuplicateKey("repair reference", repair.reference)
            self.store.put("repairs", repair.id, repair)
        return repair

    def delete_repair(self, repair_id: str) -> RepairOrder | None:
        removed: RepairOrder | None = self.store.delete("repairs", repair_id)
        return removed

    def draw(self, sequence: str) -> int:
        return self.ledger.draw(sequence)

    def find_repairs(self, reference: str) -> list[RepairOrder]:
        return self.store.by_index("repairs", "operation", reference)
