"""Fault injection at every hook call (RL-1), on what exists of the flows."""

from __future__ import annotations

import pytest

from aftersales import AfterSales, Service
from aftersales.backends.memory import MemoryBackend
from aftersales.testing import Scenario
from aftersales.testing.faults import FaultInjector, InjectedFault, sweep_faults


def test_the_injector_breaks_exactly_the_nth_call(app: AfterSales, scenario: Scenario) -> None:
    injector = FaultInjector(app)
    with injector.armed():
        app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent)
    total = len(injector.calls)
    assert total > 3
    assert injector.calls[0] == "aftersales_transaction_begin"
    with injector.armed(fail_at=2), pytest.raises(InjectedFault, match="#2"):
        app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent)


def test_rl1_configure_survives_a_fault_at_every_hook_call(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario
) -> None:
    app.settings.configure(scenario.team.id, disable=set(Service), actor=scenario.actors.manager)
    report = sweep_faults(
        app,
        backend,
        lambda: app.settings.configure(
            scenario.team.id, enable={Service.REFUNDS}, actor=scenario.actors.manager
        ),
        name="settings.configure",
    )
    assert report.faults_injected >= 5
    assert app.hooks.get_team(scenario.team.id).services == {Service.REFUNDS}
