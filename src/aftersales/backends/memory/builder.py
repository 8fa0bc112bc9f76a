"""The memory backend's test-data builder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftersales.builder import Builder
from aftersales.clock import Clock
from aftersales.models import Team, TeamConfig

if TYPE_CHECKING:
    from .backend import MemoryBackend

__all__ = ["MemoryBuilder"]


class MemoryBuilder(Builder):
    """Writes builder records straight into a `MemoryBackend`."""

    def __init__(self, backend: MemoryBackend, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._backend = backend

    def put(self, record: object) -> None:
        from .backend import TABLE_OF

        if isinstance(record, Team):  # the host's team, and its settings for the store
            self._backend.store.put("team_settings", record.id, TeamConfig.of(record))
            record = TeamConfig(team_id=record.id).apply(record)
        if isinstance(record, TeamConfig):  # kept by team, not by an id of its own
            self._backend.store.put("team_settings", record.team_id, record)
            return
        table = TABLE_OF[type(record)]
        key = getattr(record, "id")  # noqa: B009 - every builder record has an id
        self._backend.store.put(table, key, record)

    def next_number(self, code: str) -> int:
        return self._backend.ledger.next_number(code)

    def install(self, *modules: str) -> None:
        for module in modules:
            self._backend.aftersales_modules_install(module)
