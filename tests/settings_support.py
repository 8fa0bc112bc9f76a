"""Plugins and helpers shared by the settings, subscription and module tests."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from aftersales import AfterSales, Config, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import BackendError
from aftersales.hookspecs import hookimpl
from aftersales.models import AuditEntry, ServicesConfigured, SubscriptionChanged
from aftersales.modules import Module


class Spy:
    """Records every module install and every settings/subscription event; answers nothing,
    so the backend still does the work."""

    def __init__(self) -> None:
        self.installs: list[str] = []
        self.configured: list[ServicesConfigured] = []
        self.subscription: list[SubscriptionChanged] = []

    @hookimpl(wrapper=True)
    def aftersales_modules_install(self, name: str) -> Generator[None, str, str]:
        self.installs.append(name)
        return (yield)

    @hookimpl
    def aftersales_on_services_configured(self, event: ServicesConfigured) -> None:
        self.configured.append(event)

    @hookimpl
    def aftersales_on_subscription_changed(self, event: SubscriptionChanged) -> None:
        self.subscription.append(event)


class FailingInstall:
    """A module backend that cannot install ``broken`` (called before the memory backend)."""

    def __init__(self, broken: str) -> None:
        self.broken = broken

    @hookimpl(wrapper=True)
    def aftersales_modules_install(self, name: str) -> Generator[None, str, str]:
        if name == self.broken:
            raise BackendError(f"installing {name} failed: the module server is out of disk")
        return (yield)


class Catalogue:
    """A plugin that adds modules to (or replaces modules of) the catalogue."""

    def __init__(self, *modules: Module) -> None:
        self.modules = modules

    @hookimpl
    def aftersales_modules_catalogue(self) -> Sequence[Module]:
        return self.modules


def make_app(
    backend: MemoryBackend,
    clock: FrozenClock,
    *plugins: object,
    trial_days: int = 15,
) -> AfterSales:
    return AfterSales(backend, clock=clock, config=Config(trial_days=trial_days), plugins=plugins)


def audit(app: AfterSales, action: str | None = None) -> list[AuditEntry]:
    """The audit trail (optionally only entries whose action starts with ``action``)."""
    entries = list(app.hooks.audit_list())
    if action is None:
        return entries
    return [e for e in entries if e.action.startswith(action)]
