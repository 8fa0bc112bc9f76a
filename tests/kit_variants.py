"""Deliberately broken backends: each fools today's checks one way, and the conformance kit
must catch it (``tests/test_kit_catches.py``).

They live in an importable module (not in the test's generated files) because the kit opens
them again in new processes from a picklable factory.
"""

from __future__ import annotations

from typing import Any

from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.hookspecs import hookimpl
from aftersales.models import Subscription, TeamConfig, TicketMessage
from aftersales.models.queries import MessageQuery, keyset_page, message_key
from aftersales.unit_of_work import UnitOfWork

#: The "database" of `ProcessDictBackend`: a dict of this process, by store name.
_STORES: dict[str, dict[str, dict[object, Any]]] = {}


class ProcessDictBackend(MemoryBackend):
    """Claims persistence, keeps its data in a process-wide dict: closing and opening it
    again in the same process finds everything, a new process finds nothing."""

    capabilities = frozenset({"delivered_log", "threads", "persistent"})

    def __init__(self, name: str) -> None:
        super().__init__()
        self.store_name = name
        if name in _STORES:
            self.reset(_STORES[name])

    def close(self) -> None:
        _STORES[self.store_name] = self.snapshot()


class SubscriptionNotKept(SqlBackend):
    """A SQL backend that keeps the subscription (the trial) in the object, not the database."""

    capabilities = frozenset({"delivered_log", "threads", "persistent"})

    def __init__(self, url: Any) -> None:
        super().__init__(url)
        self._subscription = Subscription()

    @hookimpl
    def aftersales_subscription_get(self) -> Subscription:
        return self._subscription

    @hookimpl
    def aftersales_subscription_save(self, subscription: Subscription) -> Subscription:
        self._subscription = subscription
        return subscription


class SettingsNotKept(SqlBackend):
    """A SQL backend that keeps the teams' after-sales settings in the object."""

    capabilities = frozenset({"delivered_log", "threads", "persistent"})

    def __init__(self, url: Any) -> None:
        super().__init__(url)
        self._settings: dict[str, TeamConfig] = {}

    @hookimpl
    def aftersales_store_get_team_config(self, team_id: str) -> TeamConfig | None:
        return self._settings.get(team_id)

    @hookimpl
    def aftersales_store_save_team_config(self, config: TeamConfig) -> TeamConfig:
        self._settings[config.team_id] = config
        return config


class TrailOutsideTheUnit(MemoryBackend):
    """Posts to a ticket's trail outside the unit of work, in a list `snapshot()` does not
    cover: a rolled-back unit leaves its message, and the snapshot never shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.side: list[TicketMessage] = []

    @hookimpl
    def aftersales_store_post_message(self, message: TicketMessage) -> TicketMessage:
        self.side.append(message)
        return message

    @hookimpl
    def aftersales_store_list_messages(self, ticket_id: str) -> list[TicketMessage]:
        return [m for m in self.side if m.ticket_id == ticket_id]

    @hookimpl
    def aftersales_store_messages_page(self, query: MessageQuery) -> list[TicketMessage]:
        trail = [m for m in self.side if m.ticket_id == query.ticket_id]
        return keyset_page(trail, message_key, query.after, query.limit)


class TornReads(MemoryBackend):
    """Read-only units take no snapshot and no lock: each read sees the latest commit, so
    a unit committing between two reads shows half of itself."""

    @hookimpl
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        if uow.writes:
            uow.enlist(self.store.begin())


class FakeMultiProcess(MemoryBackend):
    """Declares `multi_process` though each process has a store of its own."""

    capabilities = frozenset({"delivered_log", "threads", "multi_process"})
