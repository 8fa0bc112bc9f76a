"""The backend called directly, without the plugin manager: the floor of the hook layer.

Every service reaches the backends through one :class:`aftersales.hooks.Hooks` instance,
whose ``_h`` attribute is the plugin manager's ``pm.hook``. :func:`call_directly` swaps it
for a :class:`DirectHooks`: each ``aftersales_*`` attribute is the backend's bound method
itself when the implementation takes every argument of the spec, or a small function that
passes only the keyword arguments the implementation accepts (pluggy lets an
implementation leave arguments out: the memory backend's ``get_invoice`` takes no
``lock``). A broadcast hook (not ``firstresult``) returns a list, as pluggy does.

What is left out is exactly pluggy's work per call: argument checks, copying the list of
implementations, the multicall loop and result collection. Event dispatch after commit
keeps using the plugin manager (no subscriber is registered in the benchmark).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pluggy

from aftersales import hookspecs
from aftersales.app import AfterSales
from aftersales.plugins import PluginManager

__all__ = ["DirectHooks", "call_directly", "call_through_pluggy", "plain_pluggy"]

_PREFIX = "aftersales_"


def _nothing(**_kwargs: object) -> None:
    return None


def _no_results(**_kwargs: object) -> list[object]:
    return []


def _narrowed(method: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    if len(names) == 1:
        (only,) = names

        def call_one(**kwargs: Any) -> Any:
            return method(**{only: kwargs[only]})

        return call_one

    def call(**kwargs: Any) -> Any:
        return method(**{name: kwargs[name] for name in names})

    return call


def _listed(call: Callable[..., Any]) -> Callable[..., list[Any]]:
    def broadcast(**kwargs: Any) -> list[Any]:
        result = call(**kwargs)
        return [] if result is None else [result]

    return broadcast


class DirectHooks:
    """Stands in for ``pm.hook`` with ``backend``'s own methods (see the module doc)."""

    def __init__(self, pm: PluginManager, backend: object) -> None:
        for name in pm.hook_names():
            spec = pm.spec(name)
            if spec is None or not name.startswith(_PREFIX):
                continue
            firstresult = spec.firstresult
            method = getattr(backend, name, None)
            if method is None:
                setattr(self, name, _nothing if firstresult else _no_results)
                continue
            accepted = tuple(inspect.signature(method).parameters)
            wanted = spec.argnames
            call = method if set(accepted) == set(wanted) else _narrowed(method, accepted)
            setattr(self, name, call if firstresult else _listed(call))

    def __getattr__(self, name: str) -> Any:  # for type checkers: every hook is set above
        raise AttributeError(name)


def call_directly(app: AfterSales, backend: object) -> None:
    """Make every service of ``app`` call ``backend`` directly from now on."""
    app.hooks._h = DirectHooks(app.pm, backend)


def plain_pluggy(pm: PluginManager) -> pluggy.PluginManager:
    """A bare ``pluggy.PluginManager`` with the library's specifications and every plugin
    of ``pm`` registered in the same order, used through pluggy's public API only
    (``add_hookspecs``, ``register``, ``pm.hook.<name>(**kwargs)``)."""
    bare = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    bare.add_hookspecs(hookspecs)
    for name, plugin in pm.list_name_plugin():
        if plugin is not None:
            bare.register(plugin, name=name)
    return bare


def call_through_pluggy(app: AfterSales) -> None:
    """Make every service of ``app`` call the same implementations through a bare pluggy
    plugin manager (:func:`plain_pluggy`) instead of the library's hook layer."""
    app.hooks._h = plain_pluggy(app.pm).hook
