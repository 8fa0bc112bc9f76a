"""The module catalogue: which modules each service needs, and in what order to install them.

The catalogue is data (ST-3). Backends may extend it through the
``aftersales_modules_catalogue`` hook; cycles are refused when it is loaded (ST-4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from aftersales.errors import InvalidConfiguration
from aftersales.models.helpdesk import Service

__all__ = ["DEFAULT_MODULES", "SERVICE_MODULES", "Module", "ModuleCatalogue"]


@attrs.frozen(kw_only=True)
class Module:
    """An installable module; ``application`` modules are what a subscription counts."""

    name: str
    label: str
    depends: tuple[str, ...] = ()
    application: bool = False


def _m(name: str, label: str, *depends: str, app: bool = False) -> Module:
    return Module(name=name, label=label, depends=depends, application=app)


#: The reference catalogue (ST-3).
DEFAULT_MODULES: tuple[Module, ...] = (
    _m("base", "Base"),
    _m("mail", "Discuss", "base"),
    _m("helpdesk", "Helpdesk", "mail", app=True),
    _m("sale_management", "Sales", "account", app=True),
    _m("account", "Invoicing", "base", app=True),
    _m("stock", "Inventory", "base", app=True),
    _m("repair", "Repairs", "stock", "sale_management", app=True),
    _m("project", "Project", "mail", app=True),
    _m("industry_fsm", "Field Service", "project", app=True),
    _m("sale_loyalty", "Coupons & Loyalty", "sale_management"),
    _m("website_sale", "eCommerce", "sale_management", app=True),
    _m("project_helpdesk", "Helpdesk Project", "helpdesk", "project"),
    _m("helpdesk_sale", "Helpdesk Sales", "helpdesk", "sale_management"),
    _m("helpdesk_account", "Helpdesk Refunds", "helpdesk_sale", "account"),
    _m("helpdesk_stock", "Helpdesk Returns", "helpdesk_sale", "stock"),
    _m("helpdesk_repair", "Helpdesk Repairs", "helpdesk_stock", "repair"),
    _m("helpdesk_sale_loyalty", "Helpdesk Coupons", "helpdesk_sale", "sale_loyalty"),
    _m("helpdesk_fsm", "Helpdesk Field Service", "project_helpdesk", "industry_fsm"),
    _m("helpdesk_stock_account", "Helpdesk Stock Accounting", "helpdesk_stock", "helpdesk_account"),
)

#: The module each toggle needs (ST-3).
SERVICE_MODULES: Mapping[Service, str] = {
    Service.REFUNDS: "helpdesk_account",
    Service.RETURNS: "helpdesk_stock",
    Service.REPAIRS: "helpdesk_repair",
    Service.COUPONS: "helpdesk_sale_loyalty",
    Service.FIELD_SERVICE: "helpdesk_fsm",
}

#: Installed automatically when every service of the key is on (ST-3).
AUTO_MODULES: Mapping[frozenset[Service], str] = {
    frozenset({Service.REFUNDS, Service.RETURNS}): "helpdesk_stock_account",
}

#: The module every database has; it is never counted as an application.
BASE_MODULES = frozenset({"base", "mail"})


class ModuleCatalogue:
    """Modules by name with dependency closure and a dependencies-first install order."""

    def __init__(self, modules: Iterable[Module] = DEFAULT_MODULES) -> None:
        by_name: dict[str, Module] = {}
        for module in modules:
            by_name[module.name] = module  # later definitions extend/override earlier ones
        self._modules = by_name
        self._check()

    def _check(self) -> None:
        for module in self._modules.values():
            for dep in module.depends:
                if dep not in self._modules:
                    raise InvalidConfiguration(
                        f"module {module.name!r} depends on unknown module {dep!r}"
                    )
        for name in self._modules:
            self._order((name,))  # raises on a cycle

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __getitem__(self, name: str) -> Module:
        try:
            return self._modules[name]
        except KeyError:
            raise InvalidConfiguration(f"module {name!r} is not in the catalogue") from None

    def __iter__(self) -> Iterable[Module]:
        return iter(self._modules.values())

    def _order(self, roots: Iterable[str]) -> list[str]:
        order: list[str] = []
        done: set[str] = set()
        visiting: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(name) :], name])
                raise InvalidConfiguration(f"the module catalogue has a cycle: {cycle}")
            visiting.append(name)
            for dep in self[name].depends:
                visit(dep)
            visiting.pop()
            done.add(name)
            order.append(name)

        for root in roots:
            visit(root)
        return order

    def install_order(self, roots: Iterable[str], installed: Iterable[str] = ()) -> tuple[str, ...]:
        """Every module of the closure of ``roots`` not yet installed, dependencies first."""
        present = set(installed)
        return tuple(name for name in self._order(sorted(roots)) if name not in present)

    def applications(self, names: Iterable[str]) -> tuple[str, ...]:
        """Those of ``names`` that are applications (what a subscription counts)."""
        return tuple(n for n in names if self[n].application)

    def modules_for(self, services: Iterable[Service]) -> tuple[str, ...]:
        """Root modules the given set of services needs, auto modules included (ST-3)."""
        wanted = set(services)
        roots = [SERVICE_MODULES[s] for s in sorted(wanted, key=lambda s: s.value)]
        roots += [module for needs, module in AUTO_MODULES.items() if needs <= wanted]
        return tuple(roots)

    def service_of(self, module: str) -> Service | None:
        """The toggle mapped to ``module`` (ST-6), if any."""
        return next((s for s, m in SERVICE_MODULES.items() if m == module), None)
