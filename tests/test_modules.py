"""The module catalogue: the ST-3 table, closure and install order (ST-4), checks at load."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales import FrozenClock, Service
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import InvalidConfiguration, InvalidInput
from aftersales.modules import (
    AUTO_MODULES,
    BASE_MODULES,
    DEFAULT_MODULES,
    SERVICE_MODULES,
    Module,
    ModuleCatalogue,
)
from aftersales.testing import Actors
from tests.settings_support import Catalogue, make_app

CATALOGUE = ModuleCatalogue()
ALL = frozenset(m.name for m in DEFAULT_MODULES)


def _respects_dependencies(
    catalogue: ModuleCatalogue, order: tuple[str, ...], installed: frozenset[str] = frozenset()
) -> bool:
    seen = set(installed)
    for name in order:
        if not set(catalogue[name].depends) <= seen:
            return False
        seen.add(name)
    return True


# -- ST-3: the table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "module", "depends"),
    [
        (Service.REFUNDS, "helpdesk_account", ("helpdesk_sale", "account")),
        (Service.RETURNS, "helpdesk_stock", ("helpdesk_sale", "stock")),
        (Service.REPAIRS, "helpdesk_repair", ("helpdesk_stock", "repair")),
        (Service.COUPONS, "helpdesk_sale_loyalty", ("helpdesk_sale", "sale_loyalty")),
        (Service.FIELD_SERVICE, "helpdesk_fsm", ("project_helpdesk", "industry_fsm")),
    ],
)
def test_st3_each_toggle_needs_its_module(
    service: Service, module: str, depends: tuple[str, ...]
) -> None:
    """ST-3: the toggle → module → dependencies table of the reference product."""
    assert SERVICE_MODULES[service] == module
    assert CATALOGUE[module].depends == depends
    assert CATALOGUE.service_of(module) is service


def test_st3_automatic_modules() -> None:
    """ST-3: helpdesk_sale is pulled in; helpdesk_stock_account comes with refunds + returns."""
    assert CATALOGUE["helpdesk_sale"].depends == ("helpdesk", "sale_management")
    assert CATALOGUE["helpdesk_stock_account"].depends == ("helpdesk_stock", "helpdesk_account")
    assert {frozenset({Service.REFUNDS, Service.RETURNS}): "helpdesk_stock_account"} == AUTO_MODULES
    assert CATALOGUE.service_of("helpdesk_sale") is None


def test_st3_applications_and_plain_modules() -> None:
    """ST-3: applications are what a subscription counts; helpdesk_* bridges are plain."""
    apps = {m.name for m in CATALOGUE if m.application}
    assert {"helpdesk", "sale_management", "account", "stock", "repair", "industry_fsm"} <= apps
    assert "project" in CATALOGUE.closure(["industry_fsm"])  # field service pulls project
    plain = {m.name for m in CATALOGUE if m.name.startswith("helpdesk_")} | set(BASE_MODULES)
    assert not plain & apps
    assert CATALOGUE.counted_applications(["base", "mail", "helpdesk", "nonexistent"]) == {
        "helpdesk"
    }


def test_st3_coupons_from_a_ticket_do_not_need_ecommerce() -> None:
    """ST-3: website_sale is only for codes created from a website, not from a ticket."""
    assert "website_sale" not in CATALOGUE.closure([SERVICE_MODULES[Service.COUPONS]])


def test_default_catalogue_covers_every_toggle() -> None:
    CATALOGUE.check_services()
    assert len(CATALOGUE) == len(ALL)


# -- ST-4: closure and order -------------------------------------------------------------------


def test_st4_install_order_of_refunds_worked_example() -> None:
    """ST-4: on a database with Helpdesk, refunds installs four modules, dependencies first."""
    order = CATALOGUE.install_order(["helpdesk_account"], {"base", "mail", "helpdesk"})
    assert order == ("account", "sale_management", "helpdesk_sale", "helpdesk_account")
    assert CATALOGUE.applications(order) == ("account", "sale_management")


@pytest.mark.parametrize("service", list(Service))
def test_st4_every_module_comes_after_its_dependencies(service: Service) -> None:
    order = CATALOGUE.install_order(CATALOGUE.modules_for({service}))
    assert _respects_dependencies(CATALOGUE, order)
    assert len(order) == len(set(order))
    assert set(order) == CATALOGUE.closure([SERVICE_MODULES[service]])
    assert order[0] == "base"
    assert order[-1] == SERVICE_MODULES[service]


def test_st4_installed_modules_are_left_out() -> None:
    installed = CATALOGUE.closure(["helpdesk_sale"])
    order = CATALOGUE.install_order(["helpdesk_account", "helpdesk_stock"], installed)
    assert "account" in installed  # sale_management depends on it
    assert order == ("helpdesk_account", "stock", "helpdesk_stock")
    assert CATALOGUE.install_order(["helpdesk_sale"], installed) == ()


def test_st3_auto_module_when_refunds_and_returns_are_both_on() -> None:
    both = CATALOGUE.modules_for({Service.REFUNDS, Service.RETURNS})
    assert "helpdesk_stock_account" in both
    order = CATALOGUE.install_order(both)
    assert order.index("helpdesk_stock_account") > order.index("helpdesk_stock")
    assert order.index("helpdesk_stock_account") > order.index("helpdesk_account")
    assert "helpdesk_stock_account" not in CATALOGUE.modules_for({Service.REFUNDS})


def test_st3_auto_module_when_the_other_service_module_is_already_installed() -> None:
    """A bridge follows the installed modules, whichever team turned the services on."""
    installed = CATALOGUE.closure(["helpdesk_stock"])
    roots = CATALOGUE.modules_for({Service.REFUNDS}, installed)
    assert "helpdesk_stock_account" in roots
    assert CATALOGUE.install_order(roots, installed)[-1] == "helpdesk_stock_account"


def test_uninstall_order_takes_dependents_first() -> None:
    installed = CATALOGUE.closure(
        ["helpdesk_stock_account", "helpdesk_repair", "helpdesk_sale_loyalty"]
    )
    order = CATALOGUE.uninstall_order("helpdesk_stock", installed)
    assert set(order) == {"helpdesk_stock", "helpdesk_repair", "helpdesk_stock_account"}
    assert order[-1] == "helpdesk_stock"
    # leaf module: only itself; a module not installed as a dependent is left alone
    assert CATALOGUE.uninstall_order("helpdesk_sale_loyalty", installed) == (
        "helpdesk_sale_loyalty",
    )


# -- ST-4: checks when the catalogue is loaded -------------------------------------------------


def _mod(name: str, *depends: str, app: bool = False) -> Module:
    return Module(name=name, label=name.title(), depends=depends, application=app)


def test_st4_cycle_is_refused_at_load() -> None:
    with pytest.raises(InvalidConfiguration, match=r"cycle: a -> b -> c -> a"):
        ModuleCatalogue([_mod("a", "b"), _mod("b", "c"), _mod("c", "a"), _mod("d", "a")])


def test_st4_self_dependency_is_a_cycle() -> None:
    with pytest.raises(InvalidConfiguration, match=r"cycle: a -> a"):
        ModuleCatalogue([_mod("a", "a")])


def test_st4_unknown_dependency_is_refused_at_load() -> None:
    with pytest.raises(InvalidConfiguration) as info:
        ModuleCatalogue([_mod("a", "ghost"), _mod("b", "a", "phantom")])
    assert "a depends on unknown module ghost" in str(info.value)
    assert "b depends on unknown module phantom" in str(info.value)


def test_catalogue_refuses_what_is_not_a_module() -> None:
    with pytest.raises(InvalidConfiguration, match="not a Module"):
        ModuleCatalogue([_mod("a"), "b"])  # type: ignore[list-item]


def test_catalogue_lookup_of_unknown_module() -> None:
    with pytest.raises(InvalidConfiguration, match="ghost is not in the catalogue"):
        CATALOGUE.install_order(["ghost"])
    assert "ghost" not in CATALOGUE


def test_catalogue_without_a_toggle_module_fails_the_service_check() -> None:
    small = ModuleCatalogue([m for m in DEFAULT_MODULES if m.name != "helpdesk_fsm"])
    with pytest.raises(InvalidConfiguration, match="helpdesk_fsm"):
        small.check_services()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Bad Name", "label": "x"}, "name"),
        ({"name": "", "label": "x"}, "name"),
        ({"name": "ok", "label": ""}, "label"),
        ({"name": "ok", "label": "x", "depends": ("Bad-Dep",)}, "depends"),
        ({"name": "ok", "label": "x", "depends": "account"}, "value"),
        ({"name": "ok", "label": "x", "application": "yes"}, "application"),
    ],
)
def test_module_fields_are_validated(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Module(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_later_definition_replaces_earlier() -> None:
    catalogue = ModuleCatalogue([_mod("a"), _mod("b"), _mod("a", "b", app=True)])
    assert catalogue["a"].depends == ("b",)
    assert catalogue["a"].application


# -- extension by backends and plugins (ST-3) --------------------------------------------------


def test_st3_plugin_extends_the_catalogue(clock: FrozenClock) -> None:
    """A plugin adds a module and amends another; the settings service installs them."""
    warranty = _mod("helpdesk_warranty", "helpdesk_stock")
    coupons = _mod("helpdesk_sale_loyalty", "helpdesk_sale", "sale_loyalty", "website_sale")
    backend = MemoryBackend()
    app = make_app(backend, clock, Catalogue(warranty, coupons))
    catalogue = app.runtime.catalogue
    assert catalogue["helpdesk_warranty"] == warranty
    assert catalogue["helpdesk_sale_loyalty"].depends[-1] == "website_sale"

    team = backend.builder(clock).team(name="Support")
    plan = app.settings.plan(team.id, enable={Service.COUPONS}, actor=Actors().manager)
    assert "website_sale" in plan.modules
    assert plan.modules.index("website_sale") < plan.modules.index("helpdesk_sale_loyalty")


def test_later_plugin_overrides_earlier_plugin(clock: FrozenClock) -> None:
    first = Catalogue(_mod("helpdesk_warranty", "helpdesk"))
    second = Catalogue(_mod("helpdesk_warranty", "helpdesk_stock"))
    app = make_app(MemoryBackend(), clock, first, second)
    assert app.runtime.catalogue["helpdesk_warranty"].depends == ("helpdesk_stock",)


def test_st4_plugin_introducing_a_cycle_fails_at_startup(clock: FrozenClock) -> None:
    """A cycle is a configuration error found when the catalogue is loaded."""
    looped = Catalogue(_mod("helpdesk", "mail", "helpdesk_sale"))
    with pytest.raises(InvalidConfiguration, match="cycle: helpdesk -> helpdesk_sale -> helpdesk"):
        make_app(MemoryBackend(), clock, looped)


def test_plugin_with_unknown_dependency_fails_at_startup(clock: FrozenClock) -> None:
    with pytest.raises(InvalidConfiguration, match="unknown module nowhere"):
        make_app(MemoryBackend(), clock, Catalogue(_mod("helpdesk_extra", "nowhere")))


def test_plugin_returning_garbage_fails_at_startup(clock: FrozenClock) -> None:
    garbage = Catalogue()
    garbage.modules = "helpdesk_extra"  # type: ignore[assignment]
    with pytest.raises(InvalidConfiguration, match="expected a sequence of Module"):
        make_app(MemoryBackend(), clock, garbage)


# -- properties --------------------------------------------------------------------------------

services_sets = st.frozensets(st.sampled_from(list(Service)))


@given(services=services_sets, already=services_sets)
def test_st4_property_install_order_respects_dependencies_and_is_unique(
    services: frozenset[Service], already: frozenset[Service]
) -> None:
    """ST-4: for any services (and any already installed), dependencies come first and
    nothing is installed twice or again."""
    installed = CATALOGUE.closure(CATALOGUE.modules_for(already))
    order = CATALOGUE.install_order(CATALOGUE.modules_for(services, installed), installed)
    assert len(order) == len(set(order))
    assert not set(order) & installed
    assert _respects_dependencies(CATALOGUE, order, installed)
    after = installed | set(order)
    assert {SERVICE_MODULES[s] for s in services} <= after
    for needs, module in AUTO_MODULES.items():
        if all(SERVICE_MODULES[s] in after for s in needs):
            assert module in after


@st.composite
def dags(draw: st.DrawFn) -> list[Module]:
    """Random acyclic catalogues: module i may depend only on modules before it."""
    size = draw(st.integers(min_value=1, max_value=12))
    modules = []
    for i in range(size):
        deps = draw(st.sets(st.integers(min_value=0, max_value=i - 1))) if i else set()
        modules.append(_mod(f"m{i}", *(f"m{d}" for d in sorted(deps))))
    return draw(st.permutations(modules))


@given(modules=dags(), data=st.data())
def test_st4_property_any_acyclic_catalogue_orders_dependencies_first(
    modules: list[Module], data: st.DataObject
) -> None:
    catalogue = ModuleCatalogue(modules)
    names = [m.name for m in modules]
    roots = data.draw(st.sets(st.sampled_from(names)))
    installed = catalogue.closure(data.draw(st.sets(st.sampled_from(names))))
    order = catalogue.install_order(roots, installed)
    assert len(order) == len(set(order))
    assert _respects_dependencies(catalogue, order, installed)
    assert set(order) == catalogue.closure(roots) - installed


@given(modules=dags(), data=st.data())
def test_st4_property_any_back_edge_is_a_cycle(modules: list[Module], data: st.DataObject) -> None:
    by_name = {m.name: m for m in modules}
    size = len(by_name)
    low = data.draw(st.integers(min_value=0, max_value=size - 1))
    high = data.draw(st.integers(min_value=low, max_value=size - 1))
    # make m{low} reach m{high} and m{high} depend on m{low}: a cycle through both
    chain = [f"m{i}" for i in range(low, high + 1)]
    edited = dict(by_name)
    for before, after in itertools.pairwise(chain):
        old = edited[before]
        edited[before] = _mod(before, *old.depends, after)
    last = edited[chain[-1]]
    edited[chain[-1]] = _mod(chain[-1], *last.depends, chain[0])
    with pytest.raises(InvalidConfiguration, match="cycle"):
        ModuleCatalogue(edited.values())
