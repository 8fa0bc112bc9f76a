"""Tryton's own module activation, through ``ir.module``.

Activating a module marks it and every missing dependency ``to activate`` (the module's
``activate`` button), then the ``ir.module.activate_upgrade`` wizard installs them in
dependency order — what Tryton's client does. A module that is not installed on the server
(its package missing) cannot be activated; :func:`activate` says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from proteus import Model, Wizard

from aftersales.errors import ConfigurationError, InvalidInput
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated

__all__ = ["activate", "module_states"]


def module_states(config: Config, names: Iterable[str] | None = None) -> Mapping[str, str]:
    """``{module: state}`` (``activated``, ``not activated``, ...) for ``names`` (all when
    None), as the server knows them."""
    domain = [] if names is None else [("name", "in", sorted(set(names)))]
    with translated("read the modules"):
        found = Model.get("ir.module", config=config).find(domain)
    return {str(module.name): str(module.state) for module in found}


def activate(config: Config, names: Iterable[str]) -> tuple[str, ...]:
    """Activate ``names`` with their dependencies; the modules newly activated (sorted).

    Already activated modules are left as they are (nothing to do returns ``()``).
    """
    wanted = sorted(set(names))
    if not wanted or any(not isinstance(name, str) or not name for name in wanted):
        raise InvalidInput("names", names, "one or more Tryton module names")
    before = module_states(config)
    missing = [name for name in wanted if name not in before]
    if missing:
        raise ConfigurationError(
            f"the Tryton server has no module {', '.join(missing)}: install its package "
            f"(e.g. pip install trytond_{missing[0]}) where trytond runs"
        )
    module_model = Model.get("ir.module", config=config)
    to_activate = [name for name in wanted if before[name] != "activated"]
    if not to_activate:
        return ()
    with translated(f"activate {', '.join(to_activate)}"):
        for module in module_model.find([("name", "in", to_activate)]):
            module.click("activate")
        Wizard("ir.module.activate_upgrade", config=config).execute("upgrade")
    after = module_states(config)
    still = [name for name in wanted if after.get(name) != "activated"]
    if still:
        raise ConfigurationError(f"Tryton did not activate {', '.join(still)}")
    return tuple(sorted(n for n, s in after.items() if s == "activated" and before[n] != s))
