"""The module catalogue: which modules each service needs, and in what order to install them.

The catalogue is data (ST-3). Backends and plugins may extend it through the
`aftersales_modules_catalogue` hook (a module with the name of an existing one replaces it).
Unknown dependencies and cycles are refused when the catalogue is loaded, not when a
module is installed (ST-4).

Examples:
    >>> catalogue = ModuleCatalogue()
    >>> order = catalogue.install_order(["helpdesk_account"], installed={"base", "mail",
    ...     "helpdesk"})
    >>> order
    ('account', 'sale_management', 'helpdesk_sale', 'helpdesk_account')
    >>> catalogue.applications(order)
    ('account', 'sale_management')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from aftersales.errors import InvalidConfiguration, InvalidInput
from aftersales.formatting import show
from aftersales.models._fields import bool_field, text, to_tuple
from aftersales.models.helpdesk import Service

__all__ = [
    "AUTO_MODULES",
    "BASE_MODULES",
    "DEFAULT_MODULES",
    "SERVICE_MODULES",
    "Module",
    "ModuleCatalogue",
]

_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


def _module_name(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not _MODULE_NAME.match(value):
        raise InvalidInput(
            attribute.name, value, "is not a module name (lowercase letters, digits and _)"
        )


def _module_names(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for item in value:
        _module_name(_inst, attribute, item)


@attrs.frozen(kw_only=True)
class Module:
    """An installable module; `application` modules are what a subscription counts (ST-3).

    `depends` names the modules that must be installed before this one.
    """

    name: str = attrs.field(validator=_module_name)
    label: str = attrs.field(validator=text())
    depends: tuple[str, ...] = attrs.field(default=(), converter=to_tuple, validator=_module_names)
    application: bool = attrs.field(default=False, validator=bool_field)


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

#: Installed automatically once the modules of every service of the key are installed (ST-3).
AUTO_MODULES: Mapping[frozenset[Service], str] = {
    frozenset({Service.REFUNDS, Service.RETURNS}): "helpdesk_stock_account",
}

#: The modules every database has; they are never counted as applications.
BASE_MODULES = frozenset({"base", "mail"})


class ModuleCatalogue:
    """Modules by name, with dependency closure and a dependencies-first install order.

    The catalogue is checked when it is built: every dependency must be in it and there
    must be no cycle; otherwise [`InvalidConfiguration`][aftersales.errors.InvalidConfiguration]
    names the culprits (ST-4). Later definitions of a name replace earlier ones, which is how a
    backend extends or amends `DEFAULT_MODULES`.
    """

    def __init__(self, modules: Iterable[Module] = DEFAULT_MODULES) -> None:
        by_name: dict[str, Module] = {}
        for module in modules:
            if not isinstance(module, Module):
                raise InvalidConfiguration(
                    f"the module catalogue holds {show(module)}, which is not a Module"
                )
            by_name[module.name] = module
        self._modules = by_name
        self._check()

    def _check(self) -> None:
        unknown = [
            f"{show(module.name)} depends on unknown module {show(dep)}"
            for module in self._modules.values()
            for dep in module.depends
            if dep not in self._modules
        ]
        if unknown:
            raise InvalidConfiguration("the module catalogue is incomplete: " + "; ".join(unknown))
        self._order(self._modules)  # raises on a cycle

    def check_services(
        self,
        services: Mapping[Service, str] = SERVICE_MODULES,
        auto: Mapping[frozenset[Service], str] = AUTO_MODULES,
    ) -> None:
        """Raise [`InvalidConfiguration`][aftersales.errors.InvalidConfiguration] unless every
        toggle's module is catalogued.
        """
        missing = sorted({*services.values(), *auto.values()} - set(self._modules))
        if missing:
            raise InvalidConfiguration(
                "the module catalogue lacks the modules of after-sales services: "
                + ", ".join(missing)
            )

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __getitem__(self, name: str) -> Module:
        try:
            return self._modules[name]
        except (KeyError, TypeError):
            raise InvalidConfiguration(f"module {show(name)} is not in the catalogue") from None

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def _order(self, roots: Iterable[str]) -> list[str]:
        """The closure of `roots`, each module after all of its dependencies."""
        order: list[str] = []
        done: set[str] = set()
        visiting: dict[str, None] = {}  # the current path, in order

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                path = list(visiting)
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise InvalidConfiguration(f"the module catalogue has a cycle: {cycle}")
            visiting[name] = None
            for dep in self[name].depends:
                visit(dep)
            del visiting[name]
            done.add(name)
            order.append(name)

        for root in roots:
            visit(root)
        return order

    def closure(self, roots: Iterable[str]) -> frozenset[str]:
        """`roots` and everything they depend on, directly or not."""
        return frozenset(self._order(roots))

    def install_order(self, roots: Iterable[str], installed: Iterable[str] = ()) -> tuple[str, ...]:
        """Every module of the closure of `roots` not yet installed, dependencies first.

        The order is deterministic (roots sorted by name) and has no duplicates.
        """
        present = set(installed)
        return tuple(name for name in self._order(sorted(roots)) if name not in present)

    def uninstall_order(self, name: str, installed: Iterable[str]) -> tuple[str, ...]:
        """`name` and every installed module that depends on it, dependents first.

        Uninstalling a module takes the modules built on it with it, as in the reference
        product. Installed modules the catalogue does not know are left alone.
        """
        present = {m for m in installed if m in self._modules}
        gone = {name}
        changed = True
        while changed:
            changed = False
            for module in present - gone:
                if gone.intersection(self._modules[module].depends):
                    gone.add(module)
                    changed = True
        order = self._order(sorted(gone))
        return tuple(m for m in reversed(order) if m in gone)

    def applications(self, names: Iterable[str]) -> tuple[str, ...]:
        """Those of `names` that are applications (what a subscription counts)."""
        return tuple(n for n in names if self[n].application)

    def counted_applications(self, names: Iterable[str]) -> frozenset[str]:
        """The applications among `names` that a subscription counts: catalogued,
        marked as applications and not part of the always-free base."""
        return frozenset(
            n
            for n in names
            if n in self._modules and self._modules[n].application and n not in BASE_MODULES
        )

    def modules_for(
        self, services: Iterable[Service], installed: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Root modules the given services need, automatic modules included (ST-3).

        An automatic module (`AUTO_MODULES`) is added once the modules of all of its
        services are installed or about to be, whichever team turned them on — the way the
        reference product auto-installs a bridge module.
        """
        wanted = sorted(set(services), key=lambda s: s.value)
        roots = [SERVICE_MODULES[s] for s in wanted]
        present = set(installed) | self.closure(roots)
        for needs, module in AUTO_MODULES.items():
            if all(SERVICE_MODULES[s] in present for s in needs) and module not in roots:
                roots.append(module)
        return tuple(roots)

    def service_of(self, module: str) -> Service | None:
        """The toggle mapped to `module` (ST-6), if any."""
        return next((s for s, m in SERVICE_MODULES.items() if m == module), None)
