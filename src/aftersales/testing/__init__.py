"""Testing support shipped with the library: fixtures, the standard scenario, snapshots,
and the backend conformance kit."""

from aftersales.testing.scenario import Actors, Scenario, build_scenario
from aftersales.testing.snapshots import Snapshotting, assert_unchanged

__all__ = ["Actors", "Scenario", "Snapshotting", "assert_unchanged", "build_scenario"]
