"""FieldServiceService: creating tasks from a ticket (FS-1, FS-2, FS-4, FS-5), rights (AC-2),
refusals that change nothing (G-3), idempotency (RL-2) and atomicity (RL-1)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.errors import (
    AccessDenied,
    BackendError,
    DatabaseLocked,
    IdempotencyConflict,
    InvalidConfiguration,
    InvalidInput,
    InvalidOperation,
    NotFound,
    ServiceDisabled,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    Actor,
    DocumentCreated,
    DocumentKind,
    DocumentLink,
    FieldServiceTask,
    Group,
    Service,
    Subscription,
    SubscriptionState,
    TaskStage,
    Team,
)
from aftersales.serialization import dumps, loads
from aftersales.services.field_service import TaskView
from aftersales.services.tickets import TicketAction
from aftersales.testing import Scenario, Witness, assert_unchanged, build_scenario

TECHNICIAN_DESK = Actor(
    user_id="desk", groups=frozenset({Group.HELPDESK_USER, Group.FIELD_SERVICE_USER})
)
FSM_ONLY = Actor(user_id="fsm-only", groups=frozenset({Group.FIELD_SERVICE_USER}))
MANAGER_NO_FSM = Actor(user_id="boss", groups=frozenset({Group.HELPDESK_MANAGER}))
PORTAL = Actor(user_id="portal", groups=frozenset({Group.PORTAL}), partner_id="nobody-yet")
NOBODY = Actor(user_id="nobody", groups=frozenset())

PLANNED = datetime(2026, 12, 1, 14, 30, tzinfo=timezone(timedelta(hours=1)))


def tasks_in(backend: Any) -> dict[object, FieldServiceTask]:
    table: dict[object, FieldServiceTask] = backend.snapshot().get("tasks", {})
    return table


# -- FS-1: what a new task holds ----------------------------------------------------------------


def test_fs1_title_defaults_to_the_ticket_title(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert task.title == "Blender broken"


def test_fs1_title_can_be_changed(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(
        scenario.ticket.id, title="  Visit: check blender motor ", actor=scenario.actors.agent
    )
    assert task.title == "Visit: check blender motor"


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_fs1_blank_title_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario, title: str
) -> None:
    with pytest.raises(InvalidInput, match="title") as info, assert_unchanged(backend):
        app.field_service.create_task(scenario.ticket.id, title=title, actor=scenario.actors.agent)
    assert info.value.field == "title"
    assert "blank" in str(info.value)


@pytest.mark.parametrize(
    ("title", "reason"),
    [(42, "expected text"), ("x" * 257, "longer than 256"), ("bell\x07", "control character")],
)
def test_fs1_malformed_title_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario, title: Any, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason), assert_unchanged(backend):
        app.field_service.create_task(scenario.ticket.id, title=title, actor=scenario.actors.agent)


def test_fs1_project_defaults_to_the_team_project(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert task.project_id == scenario.project.id == scenario.team.fsm_project_id


def test_fs1_project_can_be_another_field_service_project(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    north = backend.builder(clock).project(name="Field Service North", fsm=True)
    task = app.field_service.create_task(
        scenario.ticket.id, project_id=north.id, actor=scenario.actors.agent
    )
    assert task.project_id == north.id
    # The team's default did not move.
    assert app.hooks.get_team(scenario.team.id).fsm_project_id == scenario.project.id


def test_fs1_a_project_that_is_not_field_service_is_refused(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    internal = backend.builder(clock).project(name="Internal IT", fsm=False)
    with (
        pytest.raises(InvalidInput, match='"Internal IT" is not a field-service project') as info,
        assert_unchanged(backend),
    ):
        app.field_service.create_task(
            scenario.ticket.id, project_id=internal.id, actor=scenario.actors.agent
        )
    assert info.value.field == "project_id"
    assert info.value.value == internal.id


def test_fs1_an_unknown_project_is_not_found(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(NotFound, match="project project-404"), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id, project_id="project-404", actor=scenario.actors.agent
        )


def test_fs1_project_id_of_the_wrong_type_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(InvalidInput, match="project_id=3"), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id,
            project_id=3,  # type: ignore[arg-type]
            actor=scenario.actors.agent,
        )


def test_fs1_customer_is_replaced_by_the_delivery_address(
    app: AfterSales, scenario: Scenario
) -> None:
    assert scenario.customer.delivery_address_id is not None
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert task.customer_id == scenario.customer.delivery_address_id
    assert task.customer_id != scenario.customer.id


def test_fs1_customer_without_delivery_address_is_kept(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    assert scenario.colleague.delivery_address_id is None
    ticket = backend.builder(clock).ticket(
        team=scenario.team, title="Kettle leaks", customer=scenario.colleague
    )
    task = app.field_service.create_task(ticket.id, actor=scenario.actors.agent)
    assert task.customer_id == scenario.colleague.id


def test_fs1_description_is_copied_from_the_ticket(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert task.description == "The blender stopped after a week."
    assert task.internal_notes == ""


def test_fs1_planned_date_and_assignee_are_kept_and_the_task_starts_new(
    app: AfterSales, scenario: Scenario
) -> None:
    task = app.field_service.create_task(
        scenario.ticket.id, planned_at=PLANNED, assignee_id="tech-7", actor=scenario.actors.agent
    )
    assert task.planned_at == PLANNED
    assert task.assignee_id == "tech-7"
    assert task.stage is TaskStage.NEW
    assert task.ticket_id == scenario.ticket.id


def test_fs1_a_naive_planned_date_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    naive = datetime(2026, 12, 1, 14, 30)  # naive on purpose
    with (
        pytest.raises(InvalidInput, match="must be timezone-aware") as info,
        assert_unchanged(backend),
    ):
        app.field_service.create_task(
            scenario.ticket.id, planned_at=naive, actor=scenario.actors.agent
        )
    assert info.value.field == "planned_at"


def test_fs1_a_planned_date_that_is_not_a_datetime_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(InvalidInput, match="expected a datetime"), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id,
            planned_at="2026-12-01T14:30:00+01:00",  # type: ignore[arg-type]
            actor=scenario.actors.agent,
        )


def test_fs1_a_malformed_assignee_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(InvalidInput, match='assignee_id="tech 7"'), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id, assignee_id="tech 7", actor=scenario.actors.agent
        )


def test_fs1_a_ticket_without_customer_is_refused_and_not_offered(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    ticket = backend.builder(clock).ticket(team=scenario.team, title="Noise in the shop")
    view = app.tickets.view(ticket.id, actor=scenario.actors.agent)
    assert TicketAction.CREATE_TASK not in view.actions
    with (
        pytest.raises(InvalidOperation, match=f"ticket #{ticket.ref} has no customer"),
        assert_unchanged(backend),
    ):
        app.field_service.create_task(ticket.id, actor=scenario.actors.agent)


def test_fs1_a_team_without_field_service_project_is_refused(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    team = world.team(name="Night shift", services={Service.FIELD_SERVICE})
    ticket = world.ticket(team=team, title="Oven", customer=scenario.customer)
    with (
        pytest.raises(InvalidConfiguration, match='"Night shift" has no field-service project'),
        assert_unchanged(backend),
    ):
        app.field_service.create_task(ticket.id, actor=scenario.actors.agent)
    # Naming a project explicitly still works.
    task = app.field_service.create_task(
        ticket.id, project_id=scenario.project.id, actor=scenario.actors.agent
    )
    assert task.project_id == scenario.project.id


def test_fs1_a_team_default_that_is_no_longer_field_service_is_refused(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    old = world.project(name="Was FSM", fsm=False)
    team = world.team(name="Legacy", services={Service.FIELD_SERVICE}, fsm_project=old)
    ticket = world.ticket(team=team, title="Oven", customer=scenario.customer)
    with (
        pytest.raises(InvalidConfiguration, match='"Was FSM", is no'),
        assert_unchanged(backend),
    ):
        app.field_service.create_task(ticket.id, actor=scenario.actors.agent)


def test_g7_an_unknown_ticket_is_not_found(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(NotFound, match="ticket ticket-404"), assert_unchanged(backend):
        app.field_service.create_task("ticket-404", actor=scenario.actors.agent)


# -- FS-2: create, and create and view ----------------------------------------------------------


def test_fs2_create_returns_the_task_and_creates_exactly_one(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert tasks_in(backend) == {task.id: task}
    assert backend.snapshot()["links"] == {
        (scenario.ticket.id, "task", task.id): DocumentLink(
            ticket_id=scenario.ticket.id,
            kind=DocumentKind.TASK,
            document_id=task.id,
            created_at=task.created_at,
        )
    }


def test_fs2_create_and_view_returns_what_opens_the_task_and_creates_exactly_one(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    north = backend.builder(clock).project(name="Field Service North")
    view = app.field_service.create_and_view_task(
        scenario.ticket.id, title="On-site visit", project_id=north.id, actor=scenario.actors.agent
    )
    assert isinstance(view, TaskView)
    assert view.route == f"/tasks/{view.task.id}"
    assert (view.project_id, view.project_name) == (north.id, "Field Service North")
    assert view.task.project_id == north.id
    assert view.task.title == "On-site visit"
    assert tasks_in(backend) == {view.task.id: view.task}
    assert app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent).counts.tasks == 1


def test_fs2_create_and_view_applies_the_same_rules(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(InvalidInput, match="title"), assert_unchanged(backend):
        app.field_service.create_and_view_task(
            scenario.ticket.id, title=" ", actor=scenario.actors.agent
        )
    view = app.field_service.create_and_view_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert view.task.title == scenario.ticket.title
    assert view.task.customer_id == scenario.customer.delivery_address_id
    assert view.project_id == scenario.project.id


def test_fs2_results_round_trip_through_json(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(
        scenario.ticket.id, planned_at=PLANNED, assignee_id="tech-7", actor=scenario.actors.agent
    )
    view = app.field_service.create_and_view_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert loads(dumps(task), FieldServiceTask) == task
    assert loads(dumps(view), TaskView) == view
    listed = app.field_service.tasks(scenario.ticket.id, actor=scenario.actors.agent)
    assert loads(dumps(listed), tuple[FieldServiceTask, ...]) == listed
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        view.route = "/elsewhere"  # type: ignore[misc]


# -- FS-4: linked to the ticket, counted, on the trail -------------------------------------------


def test_fs4_ticket_view_counts_and_lists_tasks(
    app: AfterSales, clock: FrozenClock, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    first = app.field_service.create_task(scenario.ticket.id, title="Diagnose", actor=agent)
    clock.advance(hours=1)
    second = app.field_service.create_task(scenario.ticket.id, title="Replace motor", actor=agent)
    view = app.tickets.view(scenario.ticket.id, actor=agent)
    assert view.counts.tasks == 2
    tasks = [d for d in view.documents if d.kind is DocumentKind.TASK]
    assert [(d.document_id, d.name, d.state) for d in tasks] == [
        (first.id, "Diagnose", "new"),
        (second.id, "Replace motor", "new"),
    ]
    assert TicketAction.CREATE_TASK in view.actions
    assert app.field_service.tasks(scenario.ticket.id, actor=agent) == (first, second)


def test_fs4_the_trail_says_task_created_naming_actor_and_task(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    task = app.field_service.create_task(scenario.ticket.id, actor=agent, idempotency_key="k-1")
    newest = app.tickets.view(scenario.ticket.id, actor=agent).trail[0]
    assert newest.body == "Task created: Blender broken (project Field Service)"
    assert newest.author_id == agent.user_id
    assert (newest.document_kind, newest.document_id) == (DocumentKind.TASK, task.id)
    [entry] = backend.aftersales_store_audit_list(ticket_id=scenario.ticket.id)
    assert (entry.action, entry.actor_id, entry.document_ids) == (
        "task created",
        "agent",
        (task.id,),
    )
    assert entry.idempotency_key == "k-1"


def test_fs4_document_created_event_after_commit_only(
    backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    recorder = Witness()
    app = AfterSales(backend, clock=clock, plugins=[recorder])
    with pytest.raises(InvalidInput):
        app.field_service.create_task(scenario.ticket.id, title="", actor=scenario.actors.agent)
    assert recorder.events == []
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert recorder.events == [
        DocumentCreated(
            at=clock.now(),
            actor_id="agent",
            ticket_id=scenario.ticket.id,
            kind=DocumentKind.TASK,
            document_id=task.id,
        )
    ]


def test_fs4_tasks_reads_need_only_ticket_visibility(app: AfterSales, scenario: Scenario) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    # A helpdesk user without field-service rights still sees what is linked to the ticket.
    assert app.field_service.tasks(scenario.ticket.id, actor=scenario.actors.helpdesk_only) == (
        task,
    )
    with pytest.raises(AccessDenied, match="helpdesk_user"):
        app.field_service.tasks(scenario.ticket.id, actor=FSM_ONLY)


# -- FS-5: the team's default project only affects later tasks -----------------------------------


def test_fs5_changing_the_team_project_affects_only_later_tasks(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    south = backend.builder(clock).project(name="Field Service South")
    before = app.field_service.create_task(scenario.ticket.id, actor=agent)
    settings = app.settings.configure(
        scenario.team.id, fsm_project_id=south.id, actor=scenario.actors.manager
    )
    assert settings.team.fsm_project_id == south.id
    after = app.field_service.create_task(scenario.ticket.id, actor=agent)
    assert after.project_id == south.id
    stored = tasks_in(backend)
    assert stored[before.id].project_id == scenario.project.id
    assert stored[before.id] == before
    assert app.field_service.tasks(scenario.ticket.id, actor=agent) == (before, after)


# -- AC-2 / AC-4: rights, visibility, toggles, lock -----------------------------------------------


@pytest.mark.parametrize(
    ("actor", "missing"),
    [
        (Actor(user_id="hd", groups=frozenset({Group.HELPDESK_USER})), "field_service_user"),
        (MANAGER_NO_FSM, "field_service_user"),
        (FSM_ONLY, "helpdesk_user"),
        (NOBODY, "field_service_user, helpdesk_user"),
        (PORTAL, "field_service_user, helpdesk_user"),
    ],
)
def test_ac2_create_needs_helpdesk_and_field_service_user(
    app: AfterSales, backend: Any, scenario: Scenario, actor: Actor, missing: str
) -> None:
    for create in (app.field_service.create_task, app.field_service.create_and_view_task):
        with pytest.raises(AccessDenied) as info, assert_unchanged(backend):
            create(scenario.ticket.id, actor=actor)
        assert info.value.action == "field-service task"
        assert str(info.value).endswith(f"is not in group(s): {missing}")


def test_ac2_helpdesk_plus_field_service_user_and_system_may_create(
    app: AfterSales, scenario: Scenario
) -> None:
    by_desk = app.field_service.create_task(scenario.ticket.id, actor=TECHNICIAN_DESK)
    by_system = app.field_service.create_task(scenario.ticket.id, actor=Actor.system())
    assert len({by_desk.id, by_system.id}) == 2


def test_ac2_rights_are_checked_before_anything_else(app: AfterSales, backend: Any) -> None:
    with pytest.raises(AccessDenied), assert_unchanged(backend):
        app.field_service.create_task("ticket-404", title="", actor=NOBODY)


def test_a_call_without_an_actor_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    with pytest.raises(InvalidInput, match="explicit Actor"), assert_unchanged(backend):
        app.field_service.create_task(scenario.ticket.id, actor="agent")  # type: ignore[arg-type]


def test_ac3_members_only_team_refuses_outsiders(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    team = world.team(
        name="VIP",
        services={Service.FIELD_SERVICE},
        fsm_project=scenario.project,
        members={"vip-agent"},
        members_only=True,
    )
    ticket = world.ticket(team=team, title="VIP oven", customer=scenario.customer)
    with pytest.raises(AccessDenied, match="restricted to its members"), assert_unchanged(backend):
        app.field_service.create_task(ticket.id, actor=scenario.actors.agent)
    member = attrs.evolve(scenario.actors.agent, user_id="vip-agent")
    task = app.field_service.create_task(ticket.id, actor=member)
    with pytest.raises(AccessDenied, match="restricted to its members"), assert_unchanged(backend):
        app.field_service.mark_done(task.id, actor=scenario.actors.agent)
    with pytest.raises(AccessDenied, match="restricted to its members"):
        app.field_service.tasks(ticket.id, actor=scenario.actors.agent)


@pytest.fixture
def scenario_without_fsm(backend: Any, clock: FrozenClock) -> Scenario:
    return build_scenario(backend.builder(clock), services=frozenset({Service.REFUNDS}))


def test_st1_field_service_off_refuses_creation(
    app: AfterSales, backend: Any, scenario_without_fsm: Scenario
) -> None:
    s = scenario_without_fsm
    for create in (app.field_service.create_task, app.field_service.create_and_view_task):
        with (
            pytest.raises(ServiceDisabled, match="service is not enabled on team Support"),
            assert_unchanged(backend),
        ):
            create(s.ticket.id, actor=s.actors.agent)
    view = app.tickets.view(s.ticket.id, actor=s.actors.agent)
    assert TicketAction.CREATE_TASK not in view.actions


def test_st1_field_service_turned_off_refuses_stage_changes_but_keeps_tasks_readable(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    app.settings.configure(
        scenario.team.id, disable={Service.FIELD_SERVICE}, actor=scenario.actors.manager
    )
    with pytest.raises(ServiceDisabled), assert_unchanged(backend):
        app.field_service.mark_done(task.id, actor=scenario.actors.agent)
    with pytest.raises(ServiceDisabled), assert_unchanged(backend):
        app.field_service.set_stage(task.id, TaskStage.PLANNED, actor=scenario.actors.agent)
    assert app.field_service.tasks(scenario.ticket.id, actor=scenario.actors.agent) == (task,)


def test_st9_a_locked_database_refuses_every_call(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    ended = clock.now() - timedelta(days=1)
    backend.aftersales_subscription_save(
        Subscription(state=SubscriptionState.EXPIRED, trial_ends_at=ended, changed_at=ended)
    )
    agent = scenario.actors.agent
    portal = Actor(user_id="ana", groups=frozenset({Group.PORTAL}), partner_id=scenario.customer.id)
    calls: list[Callable[[], object]] = [
        lambda: app.field_service.create_task(scenario.ticket.id, actor=agent),
        lambda: app.field_service.create_and_view_task(scenario.ticket.id, actor=agent),
        lambda: app.field_service.set_stage(task.id, TaskStage.PLANNED, actor=agent),
        lambda: app.field_service.mark_done(task.id, actor=agent),
        lambda: app.field_service.tasks(scenario.ticket.id, actor=agent),
        lambda: app.field_service.portal_tasks(actor=portal),
        lambda: app.field_service.portal_task(task.id, actor=portal),
    ]
    for call in calls:
        with pytest.raises(DatabaseLocked, match="locked"), assert_unchanged(backend):
            call()


# -- RL-2: idempotency ---------------------------------------------------------------------------


def test_rl2_same_key_same_arguments_creates_one_task(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    first = app.field_service.create_task(
        scenario.ticket.id, planned_at=PLANNED, actor=agent, idempotency_key="visit-1"
    )
    clock.advance(minutes=5)
    with assert_unchanged(backend):
        again = app.field_service.create_task(
            scenario.ticket.id, planned_at=PLANNED, actor=agent, idempotency_key="visit-1"
        )
    assert again == first
    view = app.field_service.create_and_view_task(
        scenario.ticket.id, actor=agent, idempotency_key="visit-2"
    )
    with assert_unchanged(backend):
        assert (
            app.field_service.create_and_view_task(
                scenario.ticket.id, actor=agent, idempotency_key="visit-2"
            )
            == view
        )
    assert len(tasks_in(backend)) == 2


def test_rl2_same_key_other_arguments_or_operation_conflicts(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    app.field_service.create_task(scenario.ticket.id, actor=agent, idempotency_key="visit-1")
    with pytest.raises(IdempotencyConflict, match="different arguments"), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id, title="Other", actor=agent, idempotency_key="visit-1"
        )
    with (
        pytest.raises(IdempotencyConflict, match=r"used for field_service\.create_task"),
        assert_unchanged(backend),
    ):
        app.field_service.create_and_view_task(
            scenario.ticket.id, actor=agent, idempotency_key="visit-1"
        )


# -- RL-1: a backend failure midway leaves nothing ------------------------------------------------


class _BrokenTrail:
    name = "broken-trail"

    @hookimpl(wrapper=True)
    def aftersales_store_post_message(self, message: object) -> Generator[None, object, object]:
        yield from ()  # a wrapper (it owns no port) that fails before the call
        raise BackendError("the trail store is full")


def test_rl1_failure_after_the_task_is_saved_leaves_nothing(
    backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    app = AfterSales(backend, clock=clock, plugins=[_BrokenTrail()])
    with pytest.raises(BackendError, match="full"), assert_unchanged(backend):
        app.field_service.create_task(
            scenario.ticket.id, actor=scenario.actors.agent, idempotency_key="k"
        )
    assert tasks_in(backend) == {}


def test_team_records_are_untouched_by_task_creation(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    before = {table: backend.snapshot()[table] for table in ("teams", "team_settings")}
    app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert {table: backend.snapshot()[table] for table in before} == before
    team: Team = app.hooks.get_team(scenario.team.id)
    assert team == scenario.team


def test_created_at_comes_from_the_clock(
    app: AfterSales, clock: FrozenClock, scenario: Scenario
) -> None:
    clock.set("2027-01-05T08:00:00+00:00")
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    assert task.created_at == datetime(2027, 1, 5, 8, tzinfo=UTC)
