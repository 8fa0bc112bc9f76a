"""Fault injection: make the N-th hook call of a flow raise, and prove nothing remains (RL-1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from aftersales.app import AfterSales
from aftersales.testing.snapshots import Snapshotting, diff

__all__ = ["FaultInjector", "InjectedFault", "SweepReport", "sweep_faults"]


class InjectedFault(RuntimeError):
    """Raised in place of a hook call by :class:`FaultInjector`."""

    def __init__(self, hook: str, number: int) -> None:
        self.hook = hook
        self.number = number
        super().__init__(f"injected fault at hook call #{number} ({hook})")


class FaultInjector:
    """Counts hook calls of an application and makes the ``fail_at``-th one raise.

    >>> # with FaultInjector(app).armed(fail_at=3): app.refunds.reverse(...)
    """

    def __init__(self, app: AfterSales) -> None:
        self._app = app
        self.calls: list[str] = []
        self.fail_at: int | None = None

    def _before(self, hook_name: str, _impls: Sequence[Any], _kwargs: Mapping[str, Any]) -> None:
        self.calls.append(hook_name)
        if len(self.calls) == self.fail_at:
            raise InjectedFault(hook_name, len(self.calls))

    def _after(self, *_args: Any) -> None:
        return None

    @contextmanager
    def armed(self, fail_at: int | None = None) -> Iterator[FaultInjector]:
        """Count (and, with ``fail_at``, break) the hook calls made inside the block."""
        self.calls = []
        self.fail_at = fail_at
        undo = self._app.pm.add_hookcall_monitoring(self._before, self._after)
        try:
            yield self
        finally:
            undo()


@attrs.frozen
class SweepReport:
    """What :func:`sweep_faults` tried: one fault at every hook call of one call."""

    name: str
    hook_calls: int
    faults_injected: int


def sweep_faults(
    app: AfterSales, backend: Snapshotting, call: Callable[[], object], name: str = "call"
) -> SweepReport:
    """Fail ``call`` at its 1st, 2nd, … hook call until it succeeds.

    Each failed attempt must leave the whole store exactly as it was (the snapshot compares
    every table, outbox and delivered mail included). The final attempt runs with no fault and
    must succeed. Returns how many faults were injected.
    """
    injector = FaultInjector(app)
    number = 0
    while True:
        number += 1
        before = backend.snapshot()
        with injector.armed(fail_at=number):
            try:
                call()
            except InjectedFault:
                after = backend.snapshot()
                if after != before:
                    raise AssertionError(
                        f"{name}: a fault at hook call #{number} ({injector.calls[-1]}) left "
                        f"changes behind:\n{diff(before, after)}"
                    ) from None
                continue
        # No fault reached the call's unit of work: it ran to its commit.
        return SweepReport(name=name, hook_calls=len(injector.calls), faults_injected=number - 1)
