"""Testing support shipped with the library: fixtures, the standard scenario, snapshots,
a witness of events and emails, and the backend conformance kit."""

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
