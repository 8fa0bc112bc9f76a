"""The plugin manager: registers backends, finds installed ones, checks what is missing."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

import attrs
import pluggy

from aftersales import hookspecs
from aftersales.errors import BackendNotFound, ConfigurationError, MissingHookImplementation
from aftersales.formatting import show
from aftersales.models.helpdesk import Service

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUIRED_HOOKS",
    "ChangeListener",
    "HookSpecInfo",
    "PluginManager",
    "installed_backends",
    "load_backend",
]

log = logging.getLogger(__name__)

#: Entry-point group under which installed backends are found.
ENTRY_POINT_GROUP = "aftersales.backends"

_CORE = (
    "aftersales_transaction_begin",
    "aftersales_idempotency_claim",
    "aftersales_idempotency_complete",
    "aftersales_idempotency_purge",
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
    """Something that caches what the plugin manager holds (see `PluginManager.subscribe()`)."""

    def plugins_changed(self) -> None: ...


@attrs.frozen
class HookSpecInfo:
    """What a hook specification declares, read from its `@hookspec` marker and its
    signature when it is added (pluggy's public `parse_hookspec_opts()`).

    `argnames` are the parameters without a default; `defaults` tells whether some
    parameter has one (pluggy versions differ in what they pass for it).
    """

    name: str
    argnames: tuple[str, ...]
    firstresult: bool
    historic: bool
    defaults: bool


def _spec_info(name: str, function: Callable[..., Any], opts: Mapping[str, Any]) -> HookSpecInfo:
    parameters = list(inspect.signature(function).parameters.values())
    if parameters and "." in function.__qualname__ and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]  # a method of a spec class: pluggy leaves its self out
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return HookSpecInfo(
        name=name,
        argnames=tuple(p.name for p in parameters if p.kind in positional and p.default is p.empty),
        firstresult=bool(opts.get("firstresult", False)),
        historic=bool(opts.get("historic", False)),
        defaults=any(p.default is not p.empty for p in parameters),
    )


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for aftersales hooks.

    Only `aftersales_*` names count, and a callable with that prefix that lacks the
    `@hookimpl` marker is refused: a typo or a forgotten marker would otherwise be a
    silent no-op.

    It uses pluggy's public API only, and keeps what the typed facade
    (`aftersales.hooks.Hooks`) needs to call hooks quickly: the options of every
    specification (`spec()`), whether calls are monitored (`monitored`), and
    listeners told of every change (`subscribe()`).
    """

    def __init__(self) -> None:
        # Prefixed so that no attribute of a pluggy release can clash with ours.
        self._aftersales_listeners: weakref.WeakSet[ChangeListener] = weakref.WeakSet()
        self._aftersales_specs: dict[str, HookSpecInfo] = {}
        self._aftersales_monitors = 0
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)

    def spec(self, name: str) -> HookSpecInfo | None:
        """The specification of hook `name`, or `None` when none was added."""
        return self._aftersales_specs.get(name)

    def hook_names(self) -> tuple[str, ...]:
        """The names of every hook with a specification, sorted."""
        return tuple(sorted(self._aftersales_specs))

    @property
    def monitored(self) -> bool:
        """True while some call monitoring (`add_hookcall_monitoring()`, tracing) is
        on: then every hook call must go through pluggy."""
        return self._aftersales_monitors > 0

    # -- telling the typed facade that the plugins changed ---------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        """Have `listener.plugins_changed()` called after every change to the plugins,
        the hook specifications or the call monitoring (held weakly)."""
        self._aftersales_listeners.add(listener)

    def _changed(self) -> None:
        for listener in list(self._aftersales_listeners):
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
            for name in dir(module_or_class):
                opts = self.parse_hookspec_opts(module_or_class, name)
                if opts is not None:
                    function = getattr(module_or_class, name)
                    self._aftersales_specs[name] = _spec_info(name, function, opts)
        finally:
            self._changed()

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Callable[[], None]:
        """pluggy's call monitoring (`enable_tracing` goes through it too), counted so
        that `monitored` knows; undo monitorings in the reverse order (pluggy's
        undo restores what was there when that monitoring was added)."""
        undo_monitoring = super().add_hookcall_monitoring(before, after)
        self._aftersales_monitors += 1
        self._changed()
        undone = False

        def undo() -> None:
            nonlocal undone
            undo_monitoring()
            if not undone:
                undone = True
                self._aftersales_monitors -= 1
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
        """Register `backend` and check that every hook it implements exists."""
        self.register(backend, name=name)
        self.check_pending()

    def implemented(self) -> dict[str, tuple[str, ...]]:
        """For each registered plugin, the hooks it implements."""
        found: dict[str, tuple[str, ...]] = {}
        for plugin in self.get_plugins():
            name = self.get_name(plugin)
            hooks = sorted(caller.name for caller in self.get_hookcallers(plugin) or ())
            if name is not None and hooks:
                found[name] = tuple(hooks)
        return found

    def missing(self, parts: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Hooks needed by `parts` (`core` and service names) that nothing implements."""
        missing: dict[str, list[str]] = {}
        for part in parts:
            for hook_name in REQUIRED_HOOKS[part]:
                caller = getattr(self.hook, hook_name)
                if not caller.get_hookimpls():
                    missing.setdefault(hook_name, []).append(part)
        return {hook: tuple(needed_by) for hook, needed_by in missing.items()}

    def validate(self, services: Iterable[Service]) -> None:
        """Raise [`MissingHookImplementation`][MissingHookImplementation] listing every gap at
        once (RL-7).
        """
        wanted = frozenset(services)
        gaps = self.missing(["core", *(s.value for s in Service if s in wanted)])
        if gaps:
            names = [getattr(p, "name", None) or _plugin_name(p) for p in self.get_plugins()]
            raise MissingHookImplementation(gaps, sorted(names))


def _plugin_name(plugin: object) -> str:
    return getattr(plugin, "__name__", type(plugin).__name__)


def installed_backends() -> dict[str, Any]:
    """The backends installed under the `aftersales.backends` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_backend(name: str, **options: Any) -> object:
    """Build the installed backend called `name` with `options`.

    Raises [`BackendNotFound`][aftersales.errors.BackendNotFound] (suggesting the closest name)
    when none is installed.
    """
    found = installed_backends()
    if name not in found:
        raise BackendNotFound(name, found)
    try:
        factory = found[name].load()
    except ImportError as exc:
        raise ConfigurationError(
            f"backend {show(name)} is installed but cannot be imported ({exc}); "
            f"is its extra installed? e.g. pip install 'aftersales[{name}]'"
        ) from exc
    return factory(**options)
