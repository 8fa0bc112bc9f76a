"""Module activation through ir.module, then project.work tasks (a real Tryton database).

The template leaves ``project`` out, so this module activates it for real (with its
dependencies ``timesheet`` and ``company_work_time``) before creating tasks.
"""

from __future__ import annotations

import pytest

from aftersales.errors import ConfigurationError, InvalidInput, NotFound
from aftersales_tryton import modules, projects
from conftest import Tryton

pytestmark = pytest.mark.slow  # activating a module rebuilds the pool: about a minute


@pytest.fixture(scope="module")
def with_project(tryton: Tryton) -> Tryton:
    before = modules.module_states(tryton.config, ["project", "timesheet", "company_work_time"])
    assert set(before.values()) == {"not activated"}
    activated = modules.activate(tryton.config, ["project"])
    assert activated == ("company_work_time", "project", "timesheet")
    return tryton


def test_activation_installs_the_module_and_its_dependencies(with_project: Tryton) -> None:
    states = modules.module_states(with_project.config, ["project", "timesheet", "sale"])
    assert states == {"project": "activated", "timesheet": "activated", "sale": "activated"}
    assert modules.activate(with_project.config, ["project", "sale"]) == ()


def test_activation_of_a_module_the_server_lacks_names_it(with_project: Tryton) -> None:
    with pytest.raises(ConfigurationError, match="no module repair"):
        modules.activate(with_project.config, ["repair"])


def test_a_task_is_created_in_a_project_and_found_by_its_reference(with_project: Tryton) -> None:
    config = with_project.config
    customer = with_project.world.customer("Marta Ruiz")
    project = projects.create_project(config, "Field service", party_id=customer)
    assert project.type == "project" and project.status == "Open"
    task = projects.create_task(
        config,
        project.id,
        "Install the dishwasher",
        party_id=customer,
        reference="as-task-1",
        description="Ticket #12: the customer is home after 3 pm.",
    )
    assert task.parent_id == project.id and task.type == "task" and task.status == "Open"
    assert task.reference == "as-task-1" and "after 3 pm" in task.comment
    assert projects.find_tasks_by_reference(config, "as-task-1") == (task,)
    assert projects.find_tasks_by_reference(config, "as-task") == ()

    done = projects.set_status(config, task.id, "Done")
    assert done.status == "Done"
    with pytest.raises(NotFound):
        projects.set_status(config, task.id, "Teleported")
    with pytest.raises(InvalidInput, match="is a task"):
        projects.create_task(config, task.id, "Sub-task")
    assert projects.read_work(config, task.id) == done
