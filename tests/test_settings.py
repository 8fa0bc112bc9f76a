"""Team after-sales settings: toggles (ST-1, ST-2), installs (ST-4), the plan (ST-5),
uninstalling (ST-6), idempotency and the audit of installs (ST-11)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales import AfterSales, FrozenClock, Service
from aftersales.access import Action
from aftersales.backends.memory import MemoryBackend
from aftersales.builder import Builder
from aftersales.errors import (
    BackendError,
    IdempotencyConflict,
    InvalidConfiguration,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
    ServiceDisabled,
)
from aftersales.models import SubscriptionState, Team
from aftersales.serialization import converter
from aftersales.settings import InstallPlan, TeamSettings, Uninstalled
from aftersales.testing import Actors, assert_unchanged
from tests.settings_support import FailingInstall, Spy, audit, make_app

ACTORS = Actors()
MANAGER = ACTORS.manager
REFUNDS_MODULES = ("account", "sale_management", "helpdesk_sale", "helpdesk_account")


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
def app(backend: MemoryBackend, clock: FrozenClock, spy: Spy) -> AfterSales:
    return make_app(backend, clock, spy)


@pytest.fixture
def world(backend: MemoryBackend, clock: FrozenClock) -> Builder:
    return backend.builder(clock)


@pytest.fixture
def team(world: Builder) -> Team:
    return world.team(name="Support")


def _modules(backend: MemoryBackend) -> frozenset[str]:
    return backend.aftersales_modules_installed()


# -- ST-1: toggles -----------------------------------------------------------------------------


def test_st1_toggles_are_off_by_default(app: AfterSales, team: Team) -> None:
    settings = app.settings.team_settings(team.id, actor=MANAGER)
    assert settings.services == frozenset()
    assert not any(settings.has(s) for s in Service)
    assert settings.fsm_project_id is None


def test_st1_teams_are_configured_independently(
    app: AfterSales, world: Builder, team: Team
) -> None:
    other = world.team(name="Billing desk")
    world.project(name="Field Service", fsm=True)
    app.settings.configure(team.id, enable={Service.REFUNDS, Service.RETURNS}, actor=MANAGER)
    assert app.settings.team_settings(other.id, actor=MANAGER).services == frozenset()

    app.settings.configure(other.id, enable={Service.COUPONS}, actor=MANAGER)
    app.settings.configure(team.id, disable={Service.RETURNS}, actor=MANAGER)
    app.settings.configure(other.id, enable={Service.FIELD_SERVICE}, actor=MANAGER)
    assert app.settings.team_settings(team.id, actor=MANAGER).services == {Service.REFUNDS}
    assert app.settings.team_settings(other.id, actor=MANAGER).services == {
        Service.COUPONS,
        Service.FIELD_SERVICE,
    }


@pytest.mark.parametrize("service", list(Service))
def test_st1_service_disabled_names_team_and_service(
    app: AfterSales, world: Builder, team: Team, service: Service
) -> None:
    """ST-1: a ticket may use a service only while its team has it on."""
    world.project(name="Field Service", fsm=True)
    ticket = world.ticket(team=team, title="Blender broken")
    others = set(Service) - {service}
    app.settings.configure(team.id, enable=others, actor=MANAGER)
    guard = app.runtime.guard

    def check() -> None:
        app.runtime.read(
            lambda _uow: guard.ticket(ACTORS.system, Action.VIEW_TICKET, ticket.id, service)
        )

    with pytest.raises(ServiceDisabled) as info:
        check()
    assert info.value.team == "Support"
    assert info.value.service == service.label
    noun = "field service" if service is Service.FIELD_SERVICE else f"{service.value} service"
    assert f"the {noun} is not enabled on team Support" in str(info.value)

    app.settings.configure(team.id, enable={service}, actor=MANAGER)
    check()  # now allowed


def test_st1_configure_returns_the_team_as_stored(app: AfterSales, team: Team) -> None:
    result = app.settings.configure(team.id, enable={Service.COUPONS}, actor=MANAGER)
    assert result.team == app.settings.team_settings(team.id, actor=MANAGER)
    assert result.team.services == {Service.COUPONS}


# -- ST-2: the field-service project -----------------------------------------------------------


def test_st2_field_service_picks_the_first_fsm_project(
    app: AfterSales, world: Builder, team: Team
) -> None:
    world.project(name="Internal", fsm=False)
    first = world.project(name="Field Service North", fsm=True)
    world.project(name="Field Service South", fsm=True)
    plan = app.settings.plan(team.id, enable={Service.FIELD_SERVICE}, actor=MANAGER)
    assert plan.fsm_project_id == first.id
    result = app.settings.configure(team.id, enable={Service.FIELD_SERVICE}, actor=MANAGER)
    assert result.team.fsm_project_id == first.id
    assert result.team.has(Service.FIELD_SERVICE)


def test_st2_without_any_fsm_project_field_service_is_refused(
    app: AfterSales, backend: MemoryBackend, world: Builder, team: Team
) -> None:
    world.project(name="Internal", fsm=False)
    with pytest.raises(InvalidConfiguration, match="needs a field-service project"):
        app.settings.plan(team.id, enable={Service.FIELD_SERVICE}, actor=MANAGER)
    with pytest.raises(InvalidConfiguration) as info, assert_unchanged(backend):
        app.settings.configure(
            team.id, enable={Service.FIELD_SERVICE, Service.REFUNDS}, actor=MANAGER
        )
    assert "Support" in str(info.value)


def test_st2_explicit_non_fsm_project_is_refused(
    app: AfterSales, backend: MemoryBackend, world: Builder, team: Team
) -> None:
    world.project(name="Field Service", fsm=True)
    internal = world.project(name="Internal", fsm=False)
    with pytest.raises(InvalidInput) as info, assert_unchanged(backend):
        app.settings.configure(
            team.id,
            enable={Service.FIELD_SERVICE},
            fsm_project_id=internal.id,
            actor=MANAGER,
        )
    assert info.value.field == "fsm_project_id"
    assert "Internal is not a field-service project" in str(info.value)


def test_st2_unknown_project_is_not_found(
    app: AfterSales, backend: MemoryBackend, team: Team
) -> None:
    with pytest.raises(NotFound, match="project project-ghost"), assert_unchanged(backend):
        app.settings.configure(team.id, fsm_project_id="project-ghost", actor=MANAGER)


def test_st2_project_can_be_changed_later(app: AfterSales, world: Builder, team: Team) -> None:
    north = world.project(name="North", fsm=True)
    south = world.project(name="South", fsm=True)
    app.settings.configure(team.id, enable={Service.FIELD_SERVICE}, actor=MANAGER)
    assert app.settings.team_settings(team.id, actor=MANAGER).fsm_project_id == north.id
    result = app.settings.configure(team.id, fsm_project_id=south.id, actor=MANAGER)
    assert result.team.fsm_project_id == south.id
    assert result.team.has(Service.FIELD_SERVICE)
    assert result.installed == ()
    # turning field service off keeps the default for when it comes back on
    off = app.settings.configure(team.id, disable={Service.FIELD_SERVICE}, actor=MANAGER)
    assert off.team.fsm_project_id == south.id


def test_st2_explicit_project_wins_over_the_first(
    app: AfterSales, world: Builder, team: Team
) -> None:
    world.project(name="North", fsm=True)
    south = world.project(name="South", fsm=True)
    result = app.settings.configure(
        team.id, enable={Service.FIELD_SERVICE}, fsm_project_id=south.id, actor=MANAGER
    )
    assert result.team.fsm_project_id == south.id


# -- ST-4: installing modules ------------------------------------------------------------------


def test_st4_enabling_installs_the_missing_closure_in_order(
    app: AfterSales, backend: MemoryBackend, team: Team, spy: Spy
) -> None:
    """ST-4 worked example: Helpdesk is installed; refunds needs four more modules."""
    result = app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert spy.installs == list(REFUNDS_MODULES)
    assert result.installed == REFUNDS_MODULES
    assert _modules(backend) == {"base", "mail", "helpdesk", *REFUNDS_MODULES}


def test_st4_shared_dependencies_are_installed_once_and_in_order(
    app: AfterSales, backend: MemoryBackend, team: Team, spy: Spy
) -> None:
    """Refunds and coupons share helpdesk_sale and sale_management: each is installed once,
    each module after its dependencies."""
    app.settings.configure(team.id, enable={Service.REFUNDS, Service.COUPONS}, actor=MANAGER)
    assert spy.installs == [
        "account",
        "sale_management",
        "helpdesk_sale",
        "helpdesk_account",
        "sale_loyalty",
        "helpdesk_sale_loyalty",
    ]
    assert len(spy.installs) == len(set(spy.installs))
    catalogue = app.runtime.catalogue
    for i, name in enumerate(spy.installs):
        for dep in catalogue[name].depends:
            assert dep in {"base", "mail", "helpdesk"} or spy.installs.index(dep) < i


def test_st4_second_service_installs_only_what_is_missing(
    app: AfterSales, world: Builder, team: Team, spy: Spy
) -> None:
    other = world.team(name="Shop")
    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    spy.installs.clear()
    result = app.settings.configure(other.id, enable={Service.COUPONS}, actor=MANAGER)
    assert spy.installs == ["sale_loyalty", "helpdesk_sale_loyalty"]
    assert result.installed == ("sale_loyalty", "helpdesk_sale_loyalty")


def test_st4_installed_modules_are_not_installed_again(
    app: AfterSales, team: Team, spy: Spy
) -> None:
    app.settings.configure(team.id, enable={Service.REPAIRS}, actor=MANAGER)
    spy.installs.clear()
    app.settings.configure(team.id, disable={Service.REPAIRS}, actor=MANAGER)
    again = app.settings.configure(team.id, enable={Service.REPAIRS}, actor=MANAGER)
    assert spy.installs == []
    assert again.installed == ()


def test_st3_stock_account_bridge_installed_when_refunds_and_returns_are_both_on(
    app: AfterSales, backend: MemoryBackend, team: Team, spy: Spy
) -> None:
    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert "helpdesk_stock_account" not in _modules(backend)
    app.settings.configure(team.id, enable={Service.RETURNS}, actor=MANAGER)
    assert spy.installs[-3:] == ["stock", "helpdesk_stock", "helpdesk_stock_account"]
    assert "helpdesk_stock_account" in _modules(backend)


def test_st3_stock_account_bridge_in_one_go(app: AfterSales, team: Team, spy: Spy) -> None:
    app.settings.configure(team.id, enable={Service.REFUNDS, Service.RETURNS}, actor=MANAGER)
    assert spy.installs[-1] == "helpdesk_stock_account"
    assert spy.installs.count("helpdesk_stock_account") == 1


def test_st4_services_configured_event_after_commit(
    app: AfterSales, team: Team, spy: Spy, clock: FrozenClock
) -> None:
    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    [event] = spy.configured
    assert event.team_id == team.id
    assert event.services == {Service.REFUNDS}
    assert event.installed == REFUNDS_MODULES
    assert event.actor_id == MANAGER.user_id
    assert event.at == clock.now()


def test_st4_nothing_to_do_changes_nothing(
    app: AfterSales, backend: MemoryBackend, team: Team, spy: Spy
) -> None:
    with assert_unchanged(backend):
        result = app.settings.configure(team.id, disable={Service.REFUNDS}, actor=MANAGER)
    assert result.installed == ()
    assert spy.configured == []


def test_st4_failed_install_leaves_toggles_modules_and_subscription_unchanged(
    backend: MemoryBackend, clock: FrozenClock, team: Team
) -> None:
    """An install hook that raises part-way rolls back the installs already done."""
    spy = Spy()
    app = make_app(backend, clock, spy, FailingInstall("helpdesk_sale"))
    with (
        pytest.raises(BackendError, match="installing helpdesk_sale failed"),
        assert_unchanged(backend),
    ):
        app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert spy.installs == ["account", "sale_management"]  # got that far, then rolled back
    assert _modules(backend) == {"base", "mail", "helpdesk"}
    assert app.settings.team_settings(team.id, actor=MANAGER).services == frozenset()
    assert app.subscription.status(actor=MANAGER).state is SubscriptionState.FREE
    assert spy.configured == []
    assert spy.subscription == []
    assert audit(app) == []


# -- ST-5: the plan ----------------------------------------------------------------------------


def test_st5_plan_has_no_side_effects_and_reports_the_install(
    app: AfterSales, backend: MemoryBackend, team: Team, clock: FrozenClock, spy: Spy
) -> None:
    with assert_unchanged(backend):
        plan = app.settings.plan(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert spy.installs == []
    assert spy.configured == []
    assert plan.team_id == team.id
    assert plan.services == {Service.REFUNDS}
    assert plan.modules == REFUNDS_MODULES
    assert plan.applications == ("account", "sale_management")
    assert plan.trial_starts is True
    assert plan.trial_ends_at == clock.now() + timedelta(days=15)
    assert plan.warning == (
        "Enabling this will install: account, sale_management, helpdesk_sale, "
        "helpdesk_account. Applications among them: account, sale_management. "
        "Installing another application on a One-App-Free database starts a trial that "
        "ends on 2026-12-13; without a paid subscription by then the database will be locked."
    )


def test_st5_plan_matches_what_configure_does(
    app: AfterSales, world: Builder, team: Team, spy: Spy
) -> None:
    world.project(name="Field Service", fsm=True)
    every = set(Service)
    plan = app.settings.plan(team.id, enable=every, actor=MANAGER)
    result = app.settings.configure(team.id, enable=every, actor=MANAGER)
    assert tuple(spy.installs) == plan.modules == result.installed
    assert result.team.services == plan.services
    assert result.team.fsm_project_id == plan.fsm_project_id
    assert result.subscription.trial_ends_at == plan.trial_ends_at
    assert set(plan.applications) == {
        "account",
        "sale_management",
        "stock",
        "repair",
        "project",
        "industry_fsm",
    }


def test_st5_plan_when_everything_is_installed(app: AfterSales, team: Team, world: Builder) -> None:
    world.install("account", "sale_management", "helpdesk_sale", "helpdesk_account")
    plan = app.settings.plan(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert plan.modules == ()
    assert plan.applications == ()
    assert not plan.trial_starts
    assert plan.trial_ends_at is None
    assert plan.warning == ""


def test_st5_plan_with_plain_modules_only_warns_without_a_trial(
    app: AfterSales, team: Team, world: Builder
) -> None:
    world.install("account", "sale_management")
    plan = app.settings.plan(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert plan.modules == ("helpdesk_sale", "helpdesk_account")
    assert plan.applications == ()
    assert not plan.trial_starts
    assert plan.warning == "Enabling this will install: helpdesk_sale, helpdesk_account."


def test_st5_plan_for_disabling_installs_nothing(app: AfterSales, team: Team) -> None:
    app.settings.configure(team.id, enable={Service.COUPONS}, actor=MANAGER)
    plan = app.settings.plan(team.id, disable={Service.COUPONS}, actor=MANAGER)
    assert plan.services == frozenset()
    assert plan.modules == ()


# -- input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"enable": Service.REFUNDS}, "enable"),
        ({"enable": "refunds"}, "enable"),
        ({"enable": {"Refunds"}}, "enable"),
        ({"enable": {"no-such-service"}}, "enable"),
        ({"disable": [1]}, "disable"),
        ({"enable": {Service.REFUNDS}, "disable": {Service.REFUNDS}}, "enable"),
        ({"fsm_project_id": ""}, "fsm_project_id"),
        ({"fsm_project_id": 7}, "fsm_project_id"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    app: AfterSales, backend: MemoryBackend, team: Team, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info, assert_unchanged(backend):
        app.settings.configure(team.id, actor=MANAGER, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    with pytest.raises(InvalidInput):
        app.settings.plan(team.id, actor=MANAGER, **kwargs)  # type: ignore[arg-type]


def test_unknown_team_is_not_found(app: AfterSales, backend: MemoryBackend) -> None:
    with (
        pytest.raises(NotFound, match="team team-ghost does not exist"),
        assert_unchanged(backend),
    ):
        app.settings.configure("team-ghost", enable={Service.REFUNDS}, actor=MANAGER)
    with pytest.raises(InvalidInput, match="team_id"):
        app.settings.team_settings(["team-1"], actor=MANAGER)  # type: ignore[arg-type]


# -- idempotency -------------------------------------------------------------------------------


def test_configure_replays_under_the_same_key(
    app: AfterSales, backend: MemoryBackend, team: Team, spy: Spy
) -> None:
    first = app.settings.configure(
        team.id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key="cfg-1"
    )
    with assert_unchanged(backend):
        again = app.settings.configure(
            team.id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key="cfg-1"
        )
    assert again == first
    assert spy.installs == list(REFUNDS_MODULES)  # installed once
    assert len(audit(app, "team after-sales configured")) == 1
    assert {e.idempotency_key for e in audit(app, "module installed")} == {"cfg-1"}


def test_configure_key_reused_with_other_arguments_conflicts(
    app: AfterSales, backend: MemoryBackend, team: Team
) -> None:
    app.settings.configure(
        team.id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key="cfg-1"
    )
    with pytest.raises(IdempotencyConflict, match="different arguments"), assert_unchanged(backend):
        app.settings.configure(
            team.id, enable={Service.COUPONS}, actor=MANAGER, idempotency_key="cfg-1"
        )
    with pytest.raises(IdempotencyConflict, match=r"was used for settings\.configure"):
        app.settings.uninstall("helpdesk_account", actor=MANAGER, idempotency_key="cfg-1")


def test_uninstall_replays_under_the_same_key(
    app: AfterSales, backend: MemoryBackend, team: Team
) -> None:
    app.settings.configure(team.id, enable={Service.COUPONS}, actor=MANAGER)
    first = app.settings.uninstall("sale_loyalty", actor=MANAGER, idempotency_key="rm-1")
    with assert_unchanged(backend):
        again = app.settings.uninstall("sale_loyalty", actor=MANAGER, idempotency_key="rm-1")
    assert again == first


# -- ST-6: uninstalling ------------------------------------------------------------------------


def test_st6_uninstalling_a_mapped_module_turns_the_toggle_off_on_every_team(
    app: AfterSales, backend: MemoryBackend, world: Builder, team: Team, spy: Spy
) -> None:
    second = world.team(name="Shop")
    third = world.team(name="Back office")
    app.settings.configure(team.id, enable={Service.REFUNDS, Service.COUPONS}, actor=MANAGER)
    app.settings.configure(second.id, enable={Service.REFUNDS}, actor=MANAGER)
    app.settings.configure(third.id, enable={Service.COUPONS}, actor=MANAGER)
    spy.configured.clear()

    result = app.settings.uninstall("helpdesk_account", actor=MANAGER)

    assert result.modules == ("helpdesk_account",)
    assert {t.id for t in result.teams} == {team.id, second.id}
    assert app.settings.team_settings(team.id, actor=MANAGER).services == {Service.COUPONS}
    assert app.settings.team_settings(second.id, actor=MANAGER).services == frozenset()
    assert app.settings.team_settings(third.id, actor=MANAGER).services == {Service.COUPONS}
    assert "helpdesk_account" not in _modules(backend)
    assert {e.team_id for e in spy.configured} == {team.id, second.id}
    assert len(audit(app, "module uninstalled")) == 1


def test_st6_uninstalling_a_dependency_takes_its_dependents_and_their_toggles(
    app: AfterSales, backend: MemoryBackend, team: Team
) -> None:
    app.settings.configure(
        team.id, enable={Service.REFUNDS, Service.RETURNS, Service.REPAIRS}, actor=MANAGER
    )
    result = app.settings.uninstall("stock", actor=MANAGER)
    assert result.modules[-1] == "stock"
    assert set(result.modules) == {
        "stock",
        "helpdesk_stock",
        "helpdesk_stock_account",
        "repair",
        "helpdesk_repair",
    }
    assert result.modules.index("helpdesk_repair") < result.modules.index("helpdesk_stock")
    assert app.settings.team_settings(team.id, actor=MANAGER).services == {Service.REFUNDS}
    assert "helpdesk_account" in _modules(backend)


def test_st6_uninstalling_an_unmapped_leaf_changes_no_team(
    app: AfterSales, team: Team, world: Builder
) -> None:
    world.install("website_sale")
    app.settings.configure(team.id, enable={Service.COUPONS}, actor=MANAGER)
    result = app.settings.uninstall("website_sale", actor=MANAGER)
    assert result == Uninstalled(modules=("website_sale",), teams=())
    assert app.settings.team_settings(team.id, actor=MANAGER).has(Service.COUPONS)


def test_st6_uninstall_refusals_change_nothing(app: AfterSales, backend: MemoryBackend) -> None:
    with pytest.raises(InvalidState, match="repair is not installed"), assert_unchanged(backend):
        app.settings.uninstall("repair", actor=MANAGER)
    with pytest.raises(InvalidOperation, match="base is part of every database"):
        app.settings.uninstall("base", actor=MANAGER)
    with pytest.raises(InvalidInput, match="module"):
        app.settings.uninstall("", actor=MANAGER)


# -- ST-11: audit of installs and configuration ------------------------------------------------


def test_st11_installs_and_configuration_are_audited_with_actor_and_time(
    app: AfterSales, team: Team, clock: FrozenClock
) -> None:
    clock.advance(hours=2)
    app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    installs = audit(app, "module installed")
    assert [e.detail.split(" ")[0] for e in installs] == list(REFUNDS_MODULES)
    assert {(e.actor_id, e.at) for e in installs} == {(MANAGER.user_id, clock.now())}
    [configured] = audit(app, "team after-sales configured")
    assert configured.detail == "team Support: refunds"
    assert configured.actor_id == MANAGER.user_id


# -- records -----------------------------------------------------------------------------------


def test_results_round_trip_through_the_converter(
    app: AfterSales, team: Team, world: Builder
) -> None:
    world.project(name="Field Service", fsm=True)
    plan = app.settings.plan(team.id, enable=set(Service), actor=MANAGER)
    settings = app.settings.configure(team.id, enable=set(Service), actor=MANAGER)
    removed = app.settings.uninstall("helpdesk_fsm", actor=MANAGER)
    for record, kind in (
        (plan, InstallPlan),
        (settings, TeamSettings),
        (removed, Uninstalled),
    ):
        assert converter.structure(converter.unstructure(record), kind) == record
