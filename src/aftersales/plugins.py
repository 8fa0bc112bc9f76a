"""The plugin manager: registers backends, finds installed ones, checks what is missing."""

from __future__ import annotations

import contextlib
import inspect
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

import attrs
import pluggy

from aftersales import hookspecs, ports
from aftersales.errors import (
    BackendNotFound,
    ConfigurationError,
    MissingHookImplementation,
    PortOwnershipError,
)
from aftersales.formatting import show
from aftersales.models.helpdesk import Service

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUIRED_HOOKS",
    "ChangeListener",
    "HookSpecInfo",
    "PluginManager",
    "PortView",
    "installed_backends",
    "load_backend",
]

log = logging.getLogger(__name__)

#: Entry-point group under which installed backends are found.
ENTRY_POINT_GROUP = "aftersales.backends"

#: The hooks each part of the library needs ("core" is always needed) — RL-7. Derived
#: from the port table (`aftersales.ports.PORTS`).
REQUIRED_HOOKS: Mapping[str, tuple[str, ...]] = ports.required_hooks()

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


#: What `PluginManager.add_hookspecs()` read from each module or class of specifications.
_SPECS: weakref.WeakKeyDictionary[
    Any, tuple[tuple[tuple[str, object], ...], dict[str, HookSpecInfo]]
]
_SPECS = weakref.WeakKeyDictionary()


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
        self._aftersales_owners: dict[str, str] = {}
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
            self._aftersales_specs.update(self._read_specs(module_or_class))
        finally:
            self._changed()

    def _read_specs(self, module_or_class: Any) -> dict[str, HookSpecInfo]:
        """The specifications of `module_or_class`, read once per module or class (and
        again only when one of its spec functions was replaced)."""
        try:
            cached = _SPECS.get(module_or_class)
        except TypeError:  # not weakly referenceable: read it each time
            cached = None
        if cached is not None and all(
            getattr(module_or_class, name, None) is function for name, function in cached[0]
        ):
            return cached[1]
        functions: list[tuple[str, object]] = []
        specs: dict[str, HookSpecInfo] = {}
        for name in dir(module_or_class):
            opts = self.parse_hookspec_opts(module_or_class, name)
            if opts is not None:
                function = getattr(module_or_class, name)
                functions.append((name, function))
                specs[name] = _spec_info(name, function, opts)
        with contextlib.suppress(TypeError):
            _SPECS[module_or_class] = (tuple(functions), specs)
        return specs

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

    # -- ports: one owner each ----------------------------------------------------------------

    def implementations(self, plugin: object) -> dict[str, bool]:
        """The hooks `plugin` implements, each with whether it owns its port by it: a
        plain implementation does; a wrapper (`wrapper=True` or `hookwrapper=True`)
        only observes or intercepts the owner's call and owns nothing."""
        found: dict[str, bool] = {}
        for name in dir(plugin):
            if name not in self._aftersales_specs:
                continue
            opts = self.parse_hookimpl_opts(plugin, name)
            if opts is not None:
                found[name] = not (opts.get("wrapper") or opts.get("hookwrapper"))
        return found

    def owners(self) -> dict[str, str]:
        """`{port: owner}`: the name of the plugin that owns each port (ports nobody
        owns are left out), as set by `compose()`."""
        return dict(self._aftersales_owners)

    def compose(
        self,
        backends: Iterable[object],
        plugins: Iterable[object] = (),
        services: Iterable[Service] = tuple(Service),
    ) -> None:
        """Register `backends` and `plugins` giving every port one owner, then check
        the owners (RL-7).

        A plugin owns a port when it implements one of the port's hooks (see
        `implementations()`). A port implemented by one of `plugins` is taken from
        the backends: each backend is registered with the hooks of the ports it keeps
        only (a `PortView`). Two backends, or two of `plugins`, owning one port
        are refused; so is a needed port without an owner, an owner that lacks a hook
        the enabled `services` need, and a store that does not join the unit of work
        (`aftersales_transaction_begin`). Every problem is in one
        [`PortOwnershipError`][aftersales.errors.PortOwnershipError].
        """
        backends, plugins = list(backends), list(plugins)
        implemented = {id(p): self.implementations(p) for p in [*backends, *plugins]}

        def owns(plugin: object, port: ports.Port) -> bool:
            return any(implemented[id(plugin)].get(hook) for hook in port.hooks)

        problems: list[str] = []
        owner_of: dict[str, object] = {}
        conflicts: set[str] = set()
        for port in ports.PORTS:
            explicit = [p for p in plugins if owns(p, port)]
            candidates = explicit or [p for p in backends if owns(p, port)]
            if len(candidates) > 1:
                conflicts.add(port.name)
                kind = "plugins in plugins=" if explicit else "backends"
                names = " and ".join(_owner_name(p) for p in candidates)
                problems.append(
                    f"  - port {port.name} ({port.owner.label}: {port.summary}) has two owners, "
                    f"the {kind} {names}; give it one (a plugin in plugins= takes a port "
                    "from the backends)"
                )
            elif candidates:
                owner_of[port.name] = candidates[0]

        for backend in backends:
            lost = [
                port
                for port in ports.PORTS
                if owns(backend, port) and owner_of.get(port.name, backend) is not backend
            ]
            plugin: object = backend
            if lost:
                dropped = {hook for port in lost for hook in port.hooks}
                plugin = PortView(
                    backend, [h for h in implemented[id(backend)] if h not in dropped]
                )
            self.register(plugin, name=getattr(backend, "name", None))
        for plugin in plugins:
            self.register(plugin)
        self.check_pending()
        self._aftersales_owners = {name: _owner_name(p) for name, p in owner_of.items()}

        parts = frozenset([ports.CORE, *(s.value for s in services)])
        missing: dict[str, tuple[str, ...]] = {}
        for port in ports.PORTS:
            needed = port.needed(parts)
            if not needed or port.name in conflicts:
                continue
            owner = owner_of.get(port.name)
            if owner is None:
                lacking = needed
                needed_by = port.needed_by(parts)
                fewer = (
                    ""
                    if ports.CORE in needed_by
                    else ", or build the application for fewer services "
                    "(AfterSales(..., services=...))"
                )
                head = (
                    f"  - port {port.name} ({port.owner.label}: {port.summary}) has no owner "
                    f"(needed by {', '.join(needed_by)}); add a plugin that implements "
                    f"it{fewer}:"
                )
            else:
                done = implemented[id(owner)]
                lacking = {hook: by for hook, by in needed.items() if hook not in done}
                head = (
                    f"  - port {port.name} ({port.owner.label}: {port.summary}) is owned by "
                    f"{_owner_name(owner)}, which lacks these hooks:"
                )
            if lacking:
                missing.update(lacking)
                problems.append(head)
                problems.extend(
                    f"      - {hook} (needed by: {', '.join(by)})"
                    for hook, by in sorted(lacking.items())
                )
        if not self.hook.aftersales_transaction_begin.get_hookimpls():
            missing[ports.TRANSACTIONS] = (ports.CORE,)
            problems.append(
                f"  - no plugin joins the unit of work: {ports.TRANSACTIONS} (needed by: core)"
            )
        else:
            store = owner_of.get("store")
            if store is not None and not implemented[id(store)].get(ports.TRANSACTIONS):
                problems.append(
                    f"  - port store is owned by {_owner_name(store)}, which does not join "
                    f"the unit of work ({ports.TRANSACTIONS}): what it stores would not "
                    "commit or roll back with the call"
                )
        if problems:
            registered = sorted(_owner_name(p) for p in [*backends, *plugins])
            raise PortOwnershipError(problems, missing, registered)

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


def _owner_name(plugin: object) -> str:
    return getattr(plugin, "name", None) or _plugin_name(plugin)


class PortView:
    """A backend as registered when plugins took some of its ports: its hook
    implementations for the ports it keeps (and for the broadcasts), nothing else.

    Its attributes are the backend's own bound methods, so pluggy reads their
    `@hookimpl` markers through its public API; any other attribute (`name`,
    `close`, `snapshot`…) is the backend's.
    """

    def __init__(self, backend: object, hooks: Iterable[str]) -> None:
        self.__dict__["backend"] = backend
        for name in hooks:
            self.__dict__[name] = getattr(backend, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith((_PREFIX, "__")):
            raise AttributeError(name)
        return getattr(self.__dict__["backend"], name)

    def __repr__(self) -> str:
        return f"PortView({self.__dict__['backend']!r})"


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
