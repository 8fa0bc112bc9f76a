"""The plugin manager: registers backends, finds installed ones, checks what is missing."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

import pluggy

from aftersales import hookspecs
from aftersales.errors import BackendNotFound, ConfigurationError, MissingHookImplementation
from aftersales.models.helpdesk import Service

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUIRED_HOOKS",
    "ChangeListener",
    "PluginManager",
    "installed_backends",
    "load_backend",
]

log = logging.getLogger(__name__)

#: Entry-point group under which installed backends are found.
ENTRY_POINT_GROUP = "aftersales.backends"

_CORE = (
    "aftersales_transaction_begin",
    "aftersales_idempotency_get",
    "aftersales_idempotency_save",
    "aftersales_helpdesk_get_team",
    "aftersales_helpdesk_list_teams",
    "aftersales_helpdesk_save_team",
    "aftersales_helpdesk_get_ticket",
    "aftersales_helpdesk_find_ticket",
    "aftersales_helpdesk_find_tickets",
    "aftersales_helpdesk_get_partner",
    "aftersales_helpdesk_list_contacts",
    "aftersales_helpdesk_get_product",
    "aftersales_helpdesk_get_sale_order",
    "aftersales_helpdesk_add_link",
    "aftersales_helpdesk_list_links",
    "aftersales_helpdesk_post_message",
    "aftersales_helpdesk_list_messages",
    "aftersales_modules_installed",
    "aftersales_modules_install",
    "aftersales_modules_uninstall",
    "aftersales_subscription_get",
    "aftersales_subscription_save",
    "aftersales_audit_append",
    "aftersales_audit_list",
)

#: The hooks each part of the library needs ("core" is always needed) — RL-7.
REQUIRED_HOOKS: Mapping[str, tuple[str, ...]] = {
    "core": _CORE,
    Service.REFUNDS.value: (
        "aftersales_accounting_get_invoice",
        "aftersales_accounting_find_invoices",
        "aftersales_accounting_list_credit_notes",
        "aftersales_accounting_save_invoice",
        "aftersales_accounting_list_matches",
        "aftersales_accounting_add_match",
        "aftersales_accounting_remove_match",
        "aftersales_sequence_next",
    ),
    Service.COUPONS.value: (
        "aftersales_loyalty_list_programs",
        "aftersales_loyalty_get_program",
        "aftersales_loyalty_get_coupon",
        "aftersales_loyalty_find_coupon",
        "aftersales_loyalty_create_coupon",
        "aftersales_loyalty_save_coupon",
        "aftersales_loyalty_add_use",
        "aftersales_loyalty_count_uses",
        "aftersales_mail_enqueue",
        "aftersales_mail_save",
        "aftersales_mail_get",
        "aftersales_mail_list_outbox",
        "aftersales_mail_deliver",
    ),
    Service.RETURNS.value: (
        "aftersales_stock_get_picking",
        "aftersales_stock_find_pickings",
        "aftersales_stock_list_returns",
        "aftersales_stock_save_picking",
        "aftersales_sequence_next",
    ),
    Service.REPAIRS.value: (
        "aftersales_repair_get_order",
        "aftersales_repair_save_order",
        "aftersales_repair_delete_order",
        "aftersales_helpdesk_remove_link",
        "aftersales_stock_get_picking",
        "aftersales_accounting_get_invoice",
        "aftersales_accounting_save_invoice",
        "aftersales_sequence_next",
    ),
    Service.FIELD_SERVICE.value: (
        "aftersales_project_get_project",
        "aftersales_project_list_projects",
        "aftersales_project_get_task",
        "aftersales_project_save_task",
    ),
}

_PREFIX = "aftersales_"


class ChangeListener(Protocol):
    """Something that caches what the plugin manager holds (see :meth:`PluginManager.subscribe`)."""

    def plugins_changed(self) -> None: ...


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for aftersales hooks.

    Only ``aftersales_*`` names count, and a callable with that prefix that lacks the
    ``@hookimpl`` marker is refused: a typo or a forgotten marker would otherwise be a
    silent no-op.
    """

    def __init__(self) -> None:
        self._listeners: weakref.WeakSet[ChangeListener] = weakref.WeakSet()
        super().__init__(hookspecs.PROJECT_NAME)
        #: How pluggy runs a hook call when nobody monitors or traces the calls.
        self.plain_hookexec = self._inner_hookexec
        self.add_hookspecs(hookspecs)

    # -- telling the typed facade that the plugins changed ---------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        """Have ``listener.plugins_changed()`` called after every change to the plugins,
        the hook specifications or the call monitoring (held weakly)."""
        self._listeners.add(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener.plugins_changed()

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name)
        finally:
            self._changed()

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any | None:
        try:
            return super().unregister(plugin, name)
        finally:
            self._changed()

    def add_hookspecs(self, module_or_class: Any) -> None:
        try:
            super().add_hookspecs(module_or_class)
        finally:
            self._changed()

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Callable[[], None]:
        undo_monitoring = super().add_hookcall_monitoring(before, after)
        self._changed()

        def undo() -> None:
            undo_monitoring()
            self._changed()

        return undo

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        if not name.startswith(_PREFIX):
            return None
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None:
            member = getattr(plugin, name, None)
            if callable(member) and not inspect.isclass(member):
                raise ConfigurationError(
                    f"{_plugin_name(plugin)}.{name} looks like a hook implementation but "
                    "has no @hookimpl marker (from aftersales.hookspecs import hookimpl)"
                )
        return opts

    def register_backend(self, backend: object, name: str | None = None) -> None:
        """Register ``backend`` and check that every hook it implements exists."""
        self.register(backend, name=name)
        self.check_pending()

    def implemented(self) -> dict[str, tuple[str, ...]]:
        """For each registered plugin, the hooks it implements."""
        found: dict[str, list[str]] = {}
        for hook_name in sorted(self.hook.__dict__):
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():
                found.setdefault(impl.plugin_name, []).append(hook_name)
        return {plugin: tuple(hooks) for plugin, hooks in found.items()}

    def missing(self, parts: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Hooks needed by ``parts`` (``core`` and service names) that nothing implements."""
        missing: dict[str, list[str]] = {}
        for part in parts:
            for hook_name in REQUIRED_HOOKS[part]:
                caller = getattr(self.hook, hook_name)
                if not caller.get_hookimpls():
                    missing.setdefault(hook_name, []).append(part)
        return {hook: tuple(needed_by) for hook, needed_by in missing.items()}

    def validate(self, services: Iterable[Service]) -> None:
        """Raise :class:`MissingHookImplementation` listing every gap at once (RL-7)."""
        wanted = frozenset(services)
        gaps = self.missing(["core", *(s.value for s in Service if s in wanted)])
        if gaps:
            names = [getattr(p, "name", None) or _plugin_name(p) for p in self.get_plugins()]
            raise MissingHookImplementation(gaps, sorted(names))


def _plugin_name(plugin: object) -> str:
    return getattr(plugin, "__name__", type(plugin).__name__)


def installed_backends() -> dict[str, Any]:
    """The backends installed under the ``aftersales.backends`` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_backend(name: str, **options: Any) -> object:
    """Build the installed backend called ``name`` with ``options``.

    Raises :class:`BackendNotFound` (suggesting the closest name) when none is installed.
    """
    found = installed_backends()
    if name not in found:
        raise BackendNotFound(name, found)
    try:
        factory = found[name].load()
    except ImportError as exc:
        raise ConfigurationError(
            f"backend {name!r} is installed but cannot be imported ({exc}); "
            f"is its extra installed? e.g. pip install 'aftersales[{name}]'"
        ) from exc
    return factory(**options)
