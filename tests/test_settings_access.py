"""Who may configure after-sales (AC-2, AC-4) and members-only teams (AC-3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aftersales import Actor, AfterSales, FrozenClock, Group, Service
from aftersales.backends.memory import MemoryBackend
from aftersales.builder import Builder
from aftersales.errors import AccessDenied, InvalidInput
from aftersales.models import Team, Ticket
from aftersales.testing import Actors, assert_unchanged

ACTORS = Actors()
MEMBER_MANAGER = Actor(user_id="lead", groups={Group.HELPDESK_MANAGER})
MEMBER_AGENT = Actor(user_id="ana-agent", groups={Group.HELPDESK_USER})


@pytest.fixture
def world(backend: MemoryBackend, clock: FrozenClock) -> Builder:
    return backend.builder(clock)


@pytest.fixture
def team(world: Builder) -> Team:
    return world.team(name="Support")


@pytest.fixture
def vip(world: Builder) -> Team:
    return world.team(
        name="VIP",
        members=[MEMBER_MANAGER.user_id, MEMBER_AGENT.user_id],
        members_only=True,
    )


@pytest.fixture
def vip_ticket(world: Builder, vip: Team) -> Ticket:
    return world.ticket(team=vip, title="Gold customer, broken blender")


Call = Callable[[AfterSales, str, Actor], object]

SETTINGS_CALLS: dict[str, Call] = {
    "configure": lambda app, team_id, actor: app.settings.configure(
        team_id, enable={Service.REFUNDS}, actor=actor
    ),
    "plan": lambda app, team_id, actor: app.settings.plan(
        team_id, enable={Service.REFUNDS}, actor=actor
    ),
    "team_settings": lambda app, team_id, actor: app.settings.team_settings(team_id, actor=actor),
    "uninstall": lambda app, _team_id, actor: app.settings.uninstall("helpdesk", actor=actor),
}


# -- AC-2 / AC-4: only a helpdesk manager --------------------------------------------------------


@pytest.mark.parametrize("call", list(SETTINGS_CALLS))
@pytest.mark.parametrize(
    "actor",
    [ACTORS.agent, ACTORS.helpdesk_only, ACTORS.nobody],
    ids=["agent", "helpdesk-only", "nobody"],
)
def test_ac4_non_manager_is_refused_naming_action_and_group(
    app: AfterSales, backend: MemoryBackend, team: Team, call: str, actor: Actor
) -> None:
    with pytest.raises(AccessDenied) as info, assert_unchanged(backend):
        SETTINGS_CALLS[call](app, team.id, actor)
    assert info.value.action == "configure team after-sales"
    assert "helpdesk_manager" in str(info.value)
    assert f"user {actor.user_id} " in str(info.value)


def test_ac4_refusal_comes_before_looking_at_input(app: AfterSales, backend: MemoryBackend) -> None:
    """Rights are checked first: a non-manager learns nothing about which teams exist."""
    with pytest.raises(AccessDenied), assert_unchanged(backend):
        app.settings.configure("team-ghost", enable={Service.REFUNDS}, actor=ACTORS.agent)


def test_manager_and_system_may_configure(app: AfterSales, team: Team) -> None:
    app.settings.configure(team.id, enable={Service.COUPONS}, actor=ACTORS.manager)
    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=ACTORS.system)
    assert app.settings.team_settings(team.id, actor=ACTORS.manager).services == {
        Service.COUPONS,
        Service.REFUNDS,
    }


def test_every_call_needs_an_actor(app: AfterSales, team: Team) -> None:
    with pytest.raises(InvalidInput, match="explicit Actor"):
        app.settings.configure(team.id, enable={Service.REFUNDS}, actor=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="explicit Actor"):
        app.subscription.status(actor="manager")  # type: ignore[arg-type]


# -- AC-3: members-only teams ------------------------------------------------------------------


@pytest.mark.parametrize("call", ["configure", "plan", "team_settings"])
def test_ac3_non_member_manager_cannot_see_or_configure_a_members_only_team(
    app: AfterSales, backend: MemoryBackend, vip: Team, call: str
) -> None:
    with pytest.raises(AccessDenied) as info, assert_unchanged(backend):
        SETTINGS_CALLS[call](app, vip.id, ACTORS.manager)
    assert info.value.action == "configure team after-sales"
    assert "team VIP is restricted to its members" in str(info.value)


def test_ac3_member_manager_configures_a_members_only_team(app: AfterSales, vip: Team) -> None:
    result = app.settings.configure(vip.id, enable={Service.REFUNDS}, actor=MEMBER_MANAGER)
    assert result.team.has(Service.REFUNDS)
    assert result.team.members_only
    assert app.settings.team_settings(vip.id, actor=MEMBER_MANAGER).has(Service.REFUNDS)


def test_ac3_non_member_cannot_view_a_members_only_ticket(
    app: AfterSales, backend: MemoryBackend, vip_ticket: Ticket
) -> None:
    with pytest.raises(AccessDenied) as info, assert_unchanged(backend):
        app.tickets.view(vip_ticket.id, actor=ACTORS.helpdesk_only)
    assert info.value.action == "view ticket"
    assert f"ticket #{vip_ticket.ref} belongs to team VIP" in str(info.value)
    # a manager who is not a member is refused as well
    with pytest.raises(AccessDenied):
        app.tickets.view(vip_ticket.id, actor=ACTORS.manager)


def test_ac3_member_and_system_may_view_a_members_only_ticket(
    app: AfterSales, vip_ticket: Ticket
) -> None:
    assert app.tickets.view(vip_ticket.id, actor=MEMBER_AGENT).ticket == vip_ticket
    assert app.tickets.view(vip_ticket.id, actor=ACTORS.system).team_name == "VIP"


def test_ac3_open_team_is_visible_to_every_helpdesk_user(
    app: AfterSales, world: Builder, team: Team
) -> None:
    ticket = world.ticket(team=team, title="Kettle leaks")
    assert app.tickets.view(ticket.id, actor=ACTORS.helpdesk_only).team_name == "Support"
    assert app.tickets.view(ticket.id, actor=MEMBER_AGENT).team_name == "Support"
