"""The portal (FS-6, AC-2, AC-4): customers follow the tasks of their own tickets, read-only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.errors import AccessDenied, InvalidInput, NotFound
from aftersales.models import Actor, FieldServiceTask, Group, TaskStage, Ticket
from aftersales.serialization import dumps, loads
from aftersales.services.field_service import PortalTask
from aftersales.testing import Scenario, assert_unchanged

VISIT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def portal_user(partner_id: str, user_id: str = "portal-user") -> Actor:
    return Actor(user_id=user_id, groups=frozenset({Group.PORTAL}), partner_id=partner_id)


@pytest.fixture
def ana(scenario: Scenario) -> Actor:
    return portal_user(scenario.customer.id, "ana")


@pytest.fixture
def stranger(scenario: Scenario) -> Actor:
    return portal_user(scenario.other_customer.id, "otro")


@pytest.fixture
def task(app: AfterSales, scenario: Scenario) -> FieldServiceTask:
    return app.field_service.create_task(
        scenario.ticket.id,
        title="Visit Ana",
        planned_at=VISIT,
        assignee_id="tech-7",
        actor=scenario.actors.agent,
    )


def test_fs6_portal_shows_the_progress_of_own_tasks(
    app: AfterSales, scenario: Scenario, ana: Actor, task: FieldServiceTask
) -> None:
    app.field_service.set_stage(task.id, TaskStage.PLANNED, actor=scenario.actors.agent)
    expected = PortalTask(
        task_id=task.id,
        title="Visit Ana",
        ticket_id=scenario.ticket.id,
        ticket_ref=scenario.ticket.ref,
        stage=TaskStage.PLANNED,
        planned_at=VISIT,
        assignee_id="tech-7",
    )
    assert app.field_service.portal_tasks(actor=ana) == (expected,)
    assert app.field_service.portal_tasks(actor=ana, ticket_id=scenario.ticket.id) == (expected,)
    assert app.field_service.portal_task(task.id, actor=ana) == expected
    app.field_service.mark_done(task.id, actor=scenario.actors.agent)
    assert app.field_service.portal_task(task.id, actor=ana).stage is TaskStage.DONE


def test_fs6_portal_records_expose_no_internal_field() -> None:
    assert [f.name for f in attrs.fields(PortalTask)] == [
        "task_id",
        "title",
        "ticket_id",
        "ticket_ref",
        "stage",
        "planned_at",
        "assignee_id",
    ]


def test_fs6_internal_notes_and_description_never_reach_the_portal(
    app: AfterSales, backend: Any, scenario: Scenario, ana: Actor, task: FieldServiceTask
) -> None:
    secret = "Gate code 4711; customer was rude on the phone"
    backend.tasks.save_task(attrs.evolve(task, internal_notes=secret))
    listed = app.field_service.portal_tasks(actor=ana)
    one = app.field_service.portal_task(task.id, actor=ana)
    for shown in (dumps(listed), dumps(one)):
        assert "4711" not in shown
        assert scenario.ticket.description not in shown
        assert scenario.project.id not in shown
        assert task.customer_id not in shown
    assert loads(dumps(listed), tuple[PortalTask, ...]) == listed
    assert loads(dumps(one), PortalTask) == one


def test_fs6_a_colleague_of_the_same_company_follows_the_tasks_too(
    app: AfterSales, scenario: Scenario, task: FieldServiceTask
) -> None:
    luis = portal_user(scenario.colleague.id, "luis")
    assert [t.task_id for t in app.field_service.portal_tasks(actor=luis)] == [task.id]
    assert app.field_service.portal_task(task.id, actor=luis).title == "Visit Ana"


def test_fs6_ac4_another_customer_gets_not_found(
    app: AfterSales, backend: Any, scenario: Scenario, stranger: Actor, task: FieldServiceTask
) -> None:
    assert app.field_service.portal_tasks(actor=stranger) == ()
    with pytest.raises(NotFound) as ticket_info, assert_unchanged(backend):
        app.field_service.portal_tasks(actor=stranger, ticket_id=scenario.ticket.id)
    assert str(ticket_info.value) == f"ticket {scenario.ticket.id} does not exist"
    with pytest.raises(NotFound) as task_info, assert_unchanged(backend):
        app.field_service.portal_task(task.id, actor=stranger)
    # The same answer as for a task that does not exist: nothing reveals the ticket.
    assert str(task_info.value) == f"task {task.id} does not exist"
    with pytest.raises(NotFound) as missing_info:
        app.field_service.portal_task("task-404", actor=stranger)
    assert str(missing_info.value) == "task task-404 does not exist"


def test_fs6_only_portal_visible_projects_are_shown(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario, ana: Actor
) -> None:
    hidden = backend.builder(clock).project(name="Back office FSM", portal_visible=False)
    agent = scenario.actors.agent
    shown = app.field_service.create_task(scenario.ticket.id, title="Shown", actor=agent)
    secret = app.field_service.create_task(
        scenario.ticket.id, title="Hidden", project_id=hidden.id, actor=agent
    )
    assert [t.task_id for t in app.field_service.portal_tasks(actor=ana)] == [shown.id]
    with pytest.raises(NotFound, match=f"task {secret.id}"), assert_unchanged(backend):
        app.field_service.portal_task(secret.id, actor=ana)
    # The agent still sees both on the ticket.
    assert len(app.field_service.tasks(scenario.ticket.id, actor=agent)) == 2


def test_fs6_tasks_per_ticket_and_ticket_filter(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario, ana: Actor
) -> None:
    agent = scenario.actors.agent
    clock.advance(days=1)
    newer: Ticket = backend.builder(clock).ticket(
        team=scenario.team, title="Kettle leaks", customer=scenario.colleague
    )
    a1 = app.field_service.create_task(scenario.ticket.id, title="Blender 1", actor=agent)
    a2 = app.field_service.create_task(scenario.ticket.id, title="Blender 2", actor=agent)
    b1 = app.field_service.create_task(newer.id, title="Kettle 1", actor=agent)
    # Newest ticket first, tasks of a ticket oldest first.
    assert [t.task_id for t in app.field_service.portal_tasks(actor=ana)] == [b1.id, a1.id, a2.id]
    only = app.field_service.portal_tasks(actor=ana, ticket_id=scenario.ticket.id)
    assert [(t.task_id, t.ticket_ref) for t in only] == [
        (a1.id, scenario.ticket.ref),
        (a2.id, scenario.ticket.ref),
    ]
    assert app.field_service.portal_tasks(actor=ana, ticket_id=newer.id)[0].task_id == b1.id


def test_fs6_own_ticket_without_tasks_lists_nothing(
    app: AfterSales, scenario: Scenario, ana: Actor
) -> None:
    assert app.field_service.portal_tasks(actor=ana, ticket_id=scenario.ticket.id) == ()
    assert app.field_service.portal_tasks(actor=ana) == ()


def test_fs6_a_portal_user_can_change_nothing(
    app: AfterSales, backend: Any, scenario: Scenario, ana: Actor, task: FieldServiceTask
) -> None:
    service = app.field_service
    calls: list[Callable[[], object]] = [
        lambda: service.create_task(scenario.ticket.id, actor=ana),
        lambda: service.create_and_view_task(scenario.ticket.id, actor=ana),
        lambda: service.set_stage(task.id, TaskStage.CANCELLED, actor=ana),
        lambda: service.mark_done(task.id, actor=ana),
    ]
    for call in calls:
        with (
            pytest.raises(AccessDenied, match="field-service task") as info,
            assert_unchanged(backend),
        ):
            call()
        assert "field_service_user, helpdesk_user" in str(info.value)
    # Nor can a portal user read the internal views.
    with pytest.raises(AccessDenied, match="view ticket"), assert_unchanged(backend):
        service.tasks(scenario.ticket.id, actor=ana)


def test_ac2_portal_calls_need_the_portal_group_and_a_partner(
    app: AfterSales, backend: Any, scenario: Scenario, task: FieldServiceTask
) -> None:
    for actor in (scenario.actors.agent, scenario.actors.manager):
        with (
            pytest.raises(AccessDenied, match=r"portal: .* not in group"),
            assert_unchanged(backend),
        ):
            app.field_service.portal_tasks(actor=actor)
        with pytest.raises(AccessDenied, match="portal"), assert_unchanged(backend):
            app.field_service.portal_task(task.id, actor=actor)
    anonymous = Actor(user_id="anon", groups=frozenset({Group.PORTAL}))
    calls: tuple[Callable[[], object], ...] = (
        lambda: app.field_service.portal_tasks(actor=anonymous),
        lambda: app.field_service.portal_tasks(actor=anonymous, ticket_id=scenario.ticket.id),
        lambda: app.field_service.portal_task(task.id, actor=anonymous),
    )
    for call in calls:
        with pytest.raises(AccessDenied, match="needs a partner_id"), assert_unchanged(backend):
            call()


def test_rl4_portal_ids_of_the_wrong_type_are_refused(
    app: AfterSales, backend: Any, ana: Actor
) -> None:
    with pytest.raises(InvalidInput, match="ticket_id"), assert_unchanged(backend):
        app.field_service.portal_tasks(actor=ana, ticket_id=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="task_id"), assert_unchanged(backend):
        app.field_service.portal_task(["t"], actor=ana)  # type: ignore[arg-type]
