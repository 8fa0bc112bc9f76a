"""The kit's project contract against a real Tryton database (in process).

The template leaves Tryton's ``project`` out: enabling field service through the backend's
module port activates it here (with its dependencies), as a manager's toggle would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.clock import FrozenClock
from aftersales.errors import InvalidConfiguration, InvalidState
from aftersales.models import Service, TaskRequest, TaskStage
from aftersales.testing.conformance import ProjectContract
from aftersales.testing.conformance._kit import Kit
from aftersales.testing.scenario import AGENT
from aftersales_tryton import modules, projects
from aftersales_tryton.backend import UNAVAILABLE, TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from aftersales_tryton.tasks import STAGE_STATUSES
from conftest import Tryton
from test_tryton_accounting import TrytonKit

pytestmark = pytest.mark.slow  # activating a module rebuilds the pool: about a minute


@pytest.fixture(scope="module")
def with_project(tryton: Tryton) -> Tryton:
    erp = TrytonBackend(config=tryton.config)
    assert "field_service" not in UNAVAILABLE
    assert "helpdesk_fsm" not in erp.aftersales_modules_installed()
    assert erp.aftersales_modules_install("helpdesk_fsm") == "helpdesk_fsm"
    assert "helpdesk_fsm" in erp.aftersales_modules_installed()
    assert modules.module_states(tryton.config, ["project"]) == {"project": "activated"}
    return tryton


class TestTrytonProject(ProjectContract):
    @pytest.fixture
    def kit(self, with_project: Tryton, aftersales_clock: FrozenClock) -> Kit:
        return TrytonKit(
            MemoryBackend(),
            TrytonBackend(config=with_project.config),
            with_project,
            aftersales_clock,
        )


def test_a_stage_without_its_tryton_status_is_refused_and_the_task_kept(
    with_project: Tryton, aftersales_clock: FrozenClock
) -> None:
    from proteus import Model

    erp = TrytonBackend(config=with_project.config)
    world = TrytonBuilder(erp, with_project.accounting, MemoryBackend().builder(aftersales_clock))
    project = world.project(name="Field Service")
    customer = world.customer(name="Ana")
    task = erp.aftersales_project_create_task(
        TaskRequest(
            project_id=project.id,
            title="Repair the oven",
            customer_id=customer.id,
            at=aftersales_clock.now(),
            planned_at=aftersales_clock.now() + timedelta(days=1),
            reference="op-stage-1",
        )
    )
    assert task is not None and task.stage is TaskStage.NEW
    status_model = Model.get("project.work.status", config=with_project.config)
    (cancelled,) = status_model.find([("name", "=", STAGE_STATUSES[TaskStage.CANCELLED])])
    cancelled.active = False
    cancelled.save()
    try:
        with pytest.raises(InvalidConfiguration, match="no task status 'Cancelled'"):
            erp.aftersales_project_move_task(task.id, TaskStage.CANCELLED, "op-stage-2")
        assert erp.aftersales_project_get_task(task.id, False) == task
    finally:
        cancelled.active = True
        cancelled.save()
    done = erp.aftersales_project_move_task(task.id, TaskStage.DONE, "op-stage-3")
    assert done is not None and done.stage is TaskStage.DONE
    assert erp.aftersales_project_find_by_reference("op-stage-3") == [done]
    assert erp.aftersales_project_find_by_reference("op-stage-1") == []


def test_the_field_service_moves_a_tryton_task_through_its_stages(
    with_project: Tryton, aftersales_clock: FrozenClock
) -> None:
    """FS-1 … FS-3 through the service: the task is Tryton's, its stages Tryton's statuses."""
    kit = TrytonKit(
        MemoryBackend(), TrytonBackend(config=with_project.config), with_project, aftersales_clock
    )
    project = kit.world.project(name="Field Service")
    team = kit.world.team(name="Support", services={Service.FIELD_SERVICE}, fsm_project=project)
    ana = kit.world.customer(name="Ana")
    ticket = kit.world.ticket(
        team=team, title="Oven broken", customer=ana, description="It does not heat."
    )
    service = kit.app.field_service
    task = service.create_task(ticket.id, actor=AGENT)
    assert (task.project_id, task.customer_id, task.description) == (
        project.id,
        ana.id,
        "It does not heat.",
    )
    assert projects.read_work(with_project.config, int(task.id)).status == "Open"
    moved = [
        service.set_stage(task.id, TaskStage.PLANNED, actor=AGENT).stage,
        service.set_stage(task.id, TaskStage.IN_PROGRESS, actor=AGENT).stage,
        service.mark_done(task.id, actor=AGENT).stage,
    ]
    assert moved == [TaskStage.PLANNED, TaskStage.IN_PROGRESS, TaskStage.DONE]
    assert projects.read_work(with_project.config, int(task.id)).status == "Done"
    with pytest.raises(InvalidState, match="already done"):
        service.mark_done(task.id, actor=AGENT)
    assert service.tasks(ticket.id, actor=AGENT) == (kit.read(lambda h: h.get_task(task.id)),)
