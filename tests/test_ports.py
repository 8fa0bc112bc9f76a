"""Three owners, one per port: the port table, who owns each port, and what is refused."""

from __future__ import annotations

import pickle
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, hookimpl, hookspecs
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import ConfigurationError, MissingHookImplementation, PortOwnershipError
from aftersales.models import Actor, Group, Partner, Service, Team, TeamConfig, Ticket
from aftersales.plugins import REQUIRED_HOOKS, PluginManager, PortView
from aftersales.ports import BROADCASTS, PORT_OF_HOOK, PORTS, Owner, port, required_hooks


class HostHelpdesk:
    """A host application's helpdesk: its tickets, teams and customers (here kept by a
    memory backend of its own, standing for the host's tables)."""

    name = "host"

    def __init__(self, tables: MemoryBackend) -> None:
        self.tables = tables

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        return self.tables.aftersales_helpdesk_get_team(team_id)

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> Sequence[Team]:
        return self.tables.aftersales_helpdesk_list_teams()

    @hookimpl
    def aftersales_helpdesk_save_team(self, team: Team) -> Team:
        return self.tables.aftersales_helpdesk_save_team(team)

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        return self.tables.aftersales_helpdesk_get_ticket(ticket_id)

    @hookimpl
    def aftersales_helpdesk_find_ticket(self, ref: str) -> Ticket | None:
        return self.tables.aftersales_helpdesk_find_ticket(ref)

    @hookimpl
    def aftersales_helpdesk_find_tickets(self, customer_ids: frozenset[str]) -> Sequence[Ticket]:
        return self.tables.aftersales_helpdesk_find_tickets(customer_ids)

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        return self.tables.aftersales_helpdesk_get_partner(partner_id)

    @hookimpl
    def aftersales_helpdesk_list_contacts(self, commercial_entity_id: str) -> Sequence[Partner]:
        return self.tables.aftersales_helpdesk_list_contacts(commercial_entity_id)


class TicketWatcher:
    """Looks at every ticket read, as a wrapper: it owns no port."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Generator[None, Ticket, Ticket]:
        self.seen.append(ticket_id)
        return (yield)


def _owners(pm: PluginManager, hook: str) -> list[str]:
    return [impl.plugin.name for impl in getattr(pm.hook, hook).get_hookimpls()]


# -- the table ----------------------------------------------------------------------------------


def test_every_hook_belongs_to_one_port_or_is_a_broadcast() -> None:
    specs = {name for name in dir(hookspecs) if name.startswith("aftersales_")}
    events = {name for name in specs if name.startswith("aftersales_on_")}
    assert specs - events - set(BROADCASTS) == set(PORT_OF_HOOK)
    assert sum(len(p.hooks) for p in PORTS) == len(PORT_OF_HOOK)  # no hook in two ports
    assert {p.name: p.owner for p in PORTS} == {
        "helpdesk": Owner.HOST,
        "sales": Owner.ERP,
        "accounting": Owner.ERP,
        "stock": Owner.ERP,
        "loyalty": Owner.ERP,
        "repair": Owner.ERP,
        "project": Owner.ERP,
        "imports": Owner.ERP,
        "modules": Owner.ERP,
        "subscription": Owner.ERP,
        "store": Owner.LIBRARY,
        "transport": Owner.TRANSPORT,
    }


def test_the_required_hooks_are_derived_from_the_table() -> None:
    assert required_hooks() == REQUIRED_HOOKS
    assert "aftersales_transaction_begin" in REQUIRED_HOOKS["core"]
    assert port("store").hooks["aftersales_store_remove_link"] == ("repairs",)
    assert port("accounting").hooks["aftersales_accounting_get_invoice"] == ("refunds", "repairs")
    assert port("loyalty").needed_by(frozenset({"core", "refunds"})) == ()
    with pytest.raises(KeyError):
        port("payroll")


# -- owners -------------------------------------------------------------------------------------


def test_one_backend_owns_every_port() -> None:
    app = AfterSales(MemoryBackend())
    assert app.ports() == {p.name: "memory" for p in PORTS}


def test_a_plugin_takes_the_helpdesk_port_from_the_backend() -> None:
    host_tables = MemoryBackend()
    world = host_tables.builder()
    ana = world.customer(name="Ana Pérez", email="ana@example.com")
    ticket = world.ticket(team=world.team(name="Support"), customer=ana, title="Broken")
    erp = MemoryBackend()

    app = AfterSales(erp, plugins=[HostHelpdesk(host_tables)])

    assert app.ports()["helpdesk"] == "host"
    assert {name for name, owner in app.ports().items() if owner == "memory"} == {
        p.name for p in PORTS
    } - {"helpdesk"}
    assert app.hooks.get_ticket(ticket.id) == ticket  # served from the host's tables
    assert not erp.snapshot().get("tickets")
    # the backend is registered without its helpdesk hooks, through a view of it
    assert _owners(app.pm, "aftersales_helpdesk_get_ticket") == ["host"]
    assert _owners(app.pm, "aftersales_stock_get_picking") == ["memory"]
    view = app.pm.get_plugin("memory")
    assert isinstance(view, PortView)
    assert view.snapshot == erp.snapshot and view.name == "memory"
    assert not hasattr(view, "aftersales_helpdesk_get_ticket")
    assert "aftersales_transaction_begin" in app.plugins()["memory"]  # broadcasts stay


def test_a_backend_that_keeps_every_port_is_registered_itself() -> None:
    backend = MemoryBackend()
    app = AfterSales(backend, plugins=[TicketWatcher()])
    assert app.pm.get_plugin("memory") is backend


def test_a_wrapper_owns_no_port() -> None:
    backend = MemoryBackend()
    world = backend.builder()
    ticket = world.ticket(team=world.team(name="Support"), title="Broken")
    watcher = TicketWatcher()
    app = AfterSales(backend, plugins=[watcher])
    assert app.ports()["helpdesk"] == "memory"
    assert app.hooks.get_ticket(ticket.id) == ticket
    assert watcher.seen == [ticket.id]


def test_two_backends_owning_one_port_are_refused() -> None:
    class Other(MemoryBackend):
        name = "other"

    with pytest.raises(PortOwnershipError) as info:
        AfterSales(MemoryBackend(), Other())
    message = str(info.value)
    assert (
        "  - port helpdesk (host helpdesk: teams, tickets, customers and their contacts) "
        "has two owners, the backends memory and other; give it one (a plugin in plugins= "
        "takes a port from the backends)"
    ) in message
    assert all(f"port {p.name} (" in message for p in PORTS)
    assert "lacks" not in message


def test_two_plugins_owning_one_port_are_refused() -> None:
    with pytest.raises(PortOwnershipError, match="has two owners, the plugins in plugins= host"):
        AfterSales(
            MemoryBackend(),
            plugins=[HostHelpdesk(MemoryBackend()), HostHelpdesk(MemoryBackend())],
        )


def test_a_needed_port_without_owner_is_refused_and_an_unneeded_one_is_not() -> None:
    class NoProjects(MemoryBackend):
        aftersales_project_get_project = None  # type: ignore[assignment]
        aftersales_project_list_projects = None  # type: ignore[assignment]
        aftersales_project_get_task = None  # type: ignore[assignment]
        aftersales_project_create_task = None  # type: ignore[assignment]
        aftersales_project_move_task = None  # type: ignore[assignment]
        aftersales_project_find_by_reference = None  # type: ignore[assignment]

    with pytest.raises(PortOwnershipError) as info:
        AfterSales(NoProjects())
    assert str(info.value).endswith(
        "  - port project (ERP: field-service projects and tasks) has no owner (needed by "
        "field_service); add a plugin that implements it, or build the application for "
        "fewer services (AfterSales(..., services=...)):\n"
        "      - aftersales_project_create_task (needed by: field_service)\n"
        "      - aftersales_project_find_by_reference (needed by: field_service)\n"
        "      - aftersales_project_get_project (needed by: field_service)\n"
        "      - aftersales_project_get_task (needed by: field_service)\n"
        "      - aftersales_project_list_projects (needed by: field_service)\n"
        "      - aftersales_project_move_task (needed by: field_service)"
    )
    app = AfterSales(NoProjects(), services=set(Service) - {Service.FIELD_SERVICE})
    assert "project" not in app.ports()


def test_every_problem_is_in_one_message() -> None:
    class Partial:
        name = "partial-erp"

        @hookimpl
        def aftersales_loyalty_list_programs(self) -> list[object]:
            return []

    with pytest.raises(PortOwnershipError) as info:
        AfterSales(
            MemoryBackend(),
            plugins=[HostHelpdesk(MemoryBackend()), HostHelpdesk(MemoryBackend()), Partial()],
        )
    message = str(info.value)
    assert (
        "port helpdesk (host helpdesk: teams, tickets, customers and their contacts) has two"
        in (message)
    )
    assert (
        "port loyalty (ERP: coupon programs, coupons and their uses: the ERP issues and redeems "
        "coupons) is owned by partial-erp" in (message)
    )
    assert "      - aftersales_loyalty_issue_coupon (needed by: coupons)" in message
    assert "(registered plugins: host, host, memory, partial-erp)" in message
    assert info.value.problems[0].startswith("  - port helpdesk")


def test_the_refusal_keeps_the_error_types_and_survives_pickling() -> None:
    with pytest.raises(MissingHookImplementation) as info:
        AfterSales(
            MemoryBackend(), plugins=[HostHelpdesk(MemoryBackend()), HostHelpdesk(MemoryBackend())]
        )
    assert isinstance(info.value, ConfigurationError)
    again: Any = pickle.loads(pickle.dumps(info.value))
    assert type(again) is PortOwnershipError
    assert str(again) == str(info.value) and again.problems == vars(info.value)["problems"]


# -- team settings are the library's ------------------------------------------------------------


class ReadOnlyHostHelpdesk(HostHelpdesk):
    """A host that lends its teams and tickets but stores nothing of the library's."""

    aftersales_helpdesk_save_team = None  # type: ignore[assignment]


def test_a_team_without_settings_has_every_service_off_whatever_the_host_says() -> None:
    host_tables = MemoryBackend()
    world = host_tables.builder()
    team = world.team(name="Support")
    # the host's own record claims services: they are not the host's to keep
    host_tables.store.put(
        "teams", team.id, attrs.evolve(team, services=frozenset(Service), fsm_project_id="p")
    )
    app = AfterSales(MemoryBackend(), plugins=[ReadOnlyHostHelpdesk(host_tables)])
    seen = app.hooks.get_team(team.id)
    assert (seen.services, seen.fsm_project_id) == (frozenset(), None)
    assert app.hooks.team_config(team.id) == TeamConfig(team_id=team.id)


def test_configure_stores_the_settings_in_the_store_not_in_the_host() -> None:
    host_tables = MemoryBackend()
    team = host_tables.builder().team(name="Support")
    before = host_tables.snapshot()
    erp_and_store = MemoryBackend()
    app = AfterSales(erp_and_store, plugins=[ReadOnlyHostHelpdesk(host_tables)])
    manager = Actor(user_id="u-1", groups={Group.HELPDESK_MANAGER})

    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=manager)

    assert host_tables.snapshot() == before  # the host's team is untouched
    assert erp_and_store.snapshot()["team_settings"] == {
        team.id: TeamConfig(team_id=team.id, services=frozenset({Service.REFUNDS}))
    }
    assert app.hooks.get_team(team.id) == attrs.evolve(team, services={Service.REFUNDS})
    assert app.settings.team_settings(team.id, actor=manager).services == {Service.REFUNDS}


def test_the_builder_keeps_a_teams_settings_in_the_store() -> None:
    backend = MemoryBackend()
    team = backend.builder().team(name="Support", services={Service.COUPONS})
    assert backend.snapshot()["teams"][team.id].services == frozenset()
    assert backend.snapshot()["team_settings"][team.id].services == {Service.COUPONS}
    assert AfterSales(backend).hooks.get_team(team.id) == team


def test_on_sql_the_settings_are_a_row_of_team_settings_and_survive_a_reopen(
    tmp_path: Path,
) -> None:
    manager = Actor(user_id="u-1", groups={Group.HELPDESK_MANAGER})
    backend = SqlBackend(tmp_path / "a.db")
    try:
        team = backend.builder().team(name="Support")
        AfterSales(backend).settings.configure(team.id, enable={Service.RETURNS}, actor=manager)
        [row] = backend.snapshot()["team_settings"].values()
        assert (row["team_id"], row["fsm_project_id"]) == (team.id, None)
        assert "services" not in backend.snapshot()["teams"][team.id]
    finally:
        backend.close()
    reopened = SqlBackend(tmp_path / "a.db")
    try:
        assert AfterSales(reopened).hooks.get_team(team.id).services == {Service.RETURNS}
    finally:
        reopened.close()


def test_a_store_that_does_not_join_the_unit_of_work_is_refused() -> None:
    class LooseStore:
        """Implements the store port over a memory backend, without joining the unit."""

        name = "loose-store"

        def __init__(self) -> None:
            self.inner = MemoryBackend()

    for hook in port("store").hooks:
        setattr(LooseStore, hook, hookimpl(_forward(hook)))

    with pytest.raises(PortOwnershipError) as info:
        AfterSales(MemoryBackend(), plugins=[LooseStore()])
    assert (
        "  - port store is owned by loose-store, which does not join the unit of work "
        "(aftersales_transaction_begin): what it stores would not commit or roll back with "
        "the call"
    ) in str(info.value)
    assert "lacks" not in str(info.value)


def _forward(hook: str) -> Any:
    def forward(self: Any, **kwargs: Any) -> Any:
        return getattr(self.inner, hook)(**kwargs)

    return forward
