"""Testing support shipped with the library: fixtures, the standard scenario, snapshots,
a witness of events and emails, and the backend conformance kit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftersales._lazy import attach

if TYPE_CHECKING:
    from aftersales.testing.faults import FaultInjector, InjectedFault, SweepReport, sweep_faults
    from aftersales.testing.scenario import Actors, Scenario, build_scenario
    from aftersales.testing.snapshots import Snapshotting, assert_unchanged
    from aftersales.testing.witness import Witness

__all__ = [
    "Actors",
    "FaultInjector",
    "InjectedFault",
    "Scenario",
    "Snapshotting",
    "SweepReport",
    "Witness",
    "assert_unchanged",
    "build_scenario",
    "sweep_faults",
]

#: The module of each name, imported when the name is first used (PEP 562): the pytest
#: plugin imports this package, and must not load the library with it.
_EXPORTS = {
    "Actors": "aftersales.testing.scenario",
    "FaultInjector": "aftersales.testing.faults",
    "InjectedFault": "aftersales.testing.faults",
    "Scenario": "aftersales.testing.scenario",
    "Snapshotting": "aftersales.testing.snapshots",
    "SweepReport": "aftersales.testing.faults",
    "Witness": "aftersales.testing.witness",
    "assert_unchanged": "aftersales.testing.snapshots",
    "build_scenario": "aftersales.testing.scenario",
    "sweep_faults": "aftersales.testing.faults",
}


__getattr__, __dir__ = attach(__name__, _EXPORTS)
