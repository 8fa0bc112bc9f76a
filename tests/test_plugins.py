"""The plugin manager and start-up validation (RL-7)."""

from __future__ import annotations

from typing import Any

import pytest

from aftersales import AfterSales, hookimpl
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import (
    BackendNotFound,
    ConfigurationError,
    MissingHookImplementation,
    PortOwnershipError,
)
from aftersales.hookspecs import hookspec
from aftersales.models import Service, Team
from aftersales.plugins import REQUIRED_HOOKS, PluginManager, installed_backends, load_backend
from aftersales.ports import port


class OnlyTeams:
    """A plugin that implements one hook."""

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        return Team(id=team_id, name="Remote") if team_id == "remote" else None


def test_rl7_missing_hooks_are_listed_all_at_once_with_who_needs_them() -> None:
    with pytest.raises(MissingHookImplementation) as info:
        AfterSales(OnlyTeams())
    message = str(info.value)
    assert "aftersales_transaction_begin (needed by: core)" in message
    assert "(registered plugins: OnlyTeams)" in message
    assert "aftersales_accounting_reverse_invoice (needed by: refunds)" in message
    assert "aftersales_accounting_get_invoice (needed by: refunds, repairs)" in message
    assert "aftersales_accounting_save_invoice" not in message  # not a hook any more
    assert "aftersales_loyalty_issue_coupon (needed by: coupons)" in message
    assert "aftersales_helpdesk_get_team " not in message  # implemented
    assert set(info.value.missing) == {
        hook for part in REQUIRED_HOOKS.values() for hook in part
    } - {"aftersales_helpdesk_get_team"}


def test_rl7_only_the_enabled_services_are_checked() -> None:
    pm = PluginManager()
    pm.register_backend(OnlyTeams())
    gaps = pm.missing(["core"])
    assert "aftersales_loyalty_issue_coupon" not in gaps
    assert "aftersales_helpdesk_get_ticket" in gaps


def test_an_unmarked_aftersales_method_is_an_error_not_a_silent_no_op() -> None:
    class Forgetful:
        def aftersales_helpdesk_get_team(self, team_id: str) -> None:
            return None

    with pytest.raises(ConfigurationError, match="has no @hookimpl marker"):
        PluginManager().register_backend(Forgetful())


def test_a_misspelt_hook_is_refused() -> None:
    class Typo:
        @hookimpl
        def aftersales_helpdesk_get_tikcet(self, ticket_id: str) -> None:
            return None

    with pytest.raises(Exception, match="unknown hook"):
        PluginManager().register_backend(Typo())


def test_other_methods_are_ignored() -> None:
    class Helper(OnlyTeams):
        def refresh(self) -> None: ...

    pm = PluginManager()
    pm.register_backend(Helper())
    assert list(pm.implemented().values()) == [("aftersales_helpdesk_get_team",)]


def test_a_plugin_that_takes_a_port_must_serve_all_of_it() -> None:
    """Before, OnlyTeams answered for one team and the backend for the rest of the
    helpdesk: now the plugin owns the helpdesk port, and lacks most of it."""
    with pytest.raises(PortOwnershipError) as info:
        AfterSales(MemoryBackend(), plugins=[OnlyTeams()])
    message = str(info.value)
    assert "port helpdesk (host helpdesk: teams, tickets, customers and their contacts) is " in (
        message
    )
    assert "owned by OnlyTeams, which lacks these hooks:" in message
    assert "      - aftersales_helpdesk_get_ticket (needed by: core)" in message
    assert "port accounting" not in message  # the backend still owns it
    assert set(info.value.missing) == set(port("helpdesk").hooks) - {
        "aftersales_helpdesk_get_team",
        "aftersales_helpdesk_save_team",  # optional: no service calls it
    }


def test_backends_are_found_by_entry_point_name() -> None:
    assert "memory" in installed_backends()
    assert isinstance(load_backend("memory"), MemoryBackend)
    app = AfterSales("memory")
    assert "memory" in app.plugins()


def test_an_unknown_backend_name_suggests_the_closest_one() -> None:
    with pytest.raises(BackendNotFound, match="did you mean memory"):
        AfterSales("memroy")


def test_an_app_needs_a_backend() -> None:
    with pytest.raises(ConfigurationError, match="needs a backend"):
        AfterSales()


class NoLoyalty(MemoryBackend):
    """A backend without coupons: its loyalty hook is switched off."""

    aftersales_loyalty_issue_coupon = None  # type: ignore[assignment]


def test_the_app_checks_only_the_services_it_is_built_for() -> None:
    with pytest.raises(MissingHookImplementation, match="issue_coupon \\(needed by: coupons\\)"):
        AfterSales(NoLoyalty())
    app = AfterSales(NoLoyalty(), services={Service.REFUNDS, Service.RETURNS})
    assert app.services == frozenset({Service.REFUNDS, Service.RETURNS})


def _hook_names(app: Any) -> set[str]:
    return {name for hooks in app.plugins().values() for name in hooks}


def test_the_memory_backend_implements_every_hook() -> None:
    app = AfterSales(MemoryBackend())
    specs = {name for name in vars(app.pm.hook) if name.startswith("aftersales_")}
    events = {name for name in specs if name.startswith("aftersales_on_")}
    assert specs - events - {"aftersales_modules_catalogue"} <= _hook_names(app)


def test_specifications_are_read_once_per_module_or_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aftersales.plugins as plugins_module

    read: list[str] = []
    real = plugins_module._spec_info

    def counting(name: str, function: Any, opts: Any) -> Any:
        read.append(name)
        return real(name, function, opts)

    monkeypatch.setattr(plugins_module, "_spec_info", counting)

    class Specs:
        @hookspec
        def aftersales_extra_hook(self, ticket_id: str, note: str = "") -> None: ...

    first = PluginManager()
    first.add_hookspecs(Specs)
    second = PluginManager()
    second.add_hookspecs(Specs)
    assert read.count("aftersales_extra_hook") == 1
    spec = second.spec("aftersales_extra_hook")
    assert spec is not None and spec.argnames == ("ticket_id",) and spec.defaults
    assert first.spec("aftersales_extra_hook") == spec

    # a spec function replaced afterwards is read again
    @hookspec(firstresult=True)
    def aftersales_extra_hook(ticket_id: str) -> None: ...

    monkeypatch.setattr(Specs, "aftersales_extra_hook", staticmethod(aftersales_extra_hook))
    third = PluginManager()
    third.add_hookspecs(Specs)
    changed = third.spec("aftersales_extra_hook")
    assert changed is not None and changed.firstresult and not changed.defaults
