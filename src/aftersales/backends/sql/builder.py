"""The SQL backend's test-data builder: records go straight into the database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aftersales.builder import Builder
from aftersales.clock import Clock

if TYPE_CHECKING:
    from .backend import SqlBackend

__all__ = ["SqlBuilder"]


class SqlBuilder(Builder):
    """Writes builder records into a `SqlBackend` (each call in its own transaction
    when no unit of work is open on the thread, else in that unit)."""

    def __init__(self, backend: SqlBackend, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._backend = backend

    def put(self, record: object) -> None:
        self._backend.put(record)

    def put_many(self, records: Iterable[object]) -> None:
        """Store `records` with one `executemany` per table (invoice lines and stock
        moves included), in one transaction or in the unit of work open on the thread."""
        self._backend.put_many(records)

    def next_number(self, code: str) -> int:
        return self._backend.ledger.next_number(code)

    def install(self, *modules: str) -> None:
        for module in modules:
            self._backend.aftersales_modules_install(module)
