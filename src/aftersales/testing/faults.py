"""Fault injection: make the N-th hook call of a flow raise, and prove nothing remains (RL-1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from aftersales.app import AfterSales
from aftersales.testing.snapshots import Snapshotting, diff

__all__ = ["AFTER_COMMIT_HOOKS", "FaultInjector", "InjectedFault", "SweepReport", "sweep_faults"]

#: The first call of one of these hooks shows that the call's unit of work has committed:
#: what follows is the delivery of its emails, which may fail without failing the call.
AFTER_COMMIT_HOOKS = frozenset({"aftersales_mail_deliver"})


class InjectedFault(RuntimeError):
    """Raised in place of a hook call by `FaultInjector`."""

    def __init__(self, hook: str, number: int) -> None:
        self.hook = hook
        self.number = number
        super().__init__(f"injected fault at hook call #{number} ({hook})")


class FaultInjector:
    """Counts hook calls of an application and makes the `fail_at`-th one raise.

    By default only hook calls made before the call's unit of work commits are counted
    for `fail_at`; the calls that deliver its emails afterwards (from the first of
    `AFTER_COMMIT_HOOKS` on) are left alone. With `after_commit=True` it is the
    other way round: `fail_at` counts the calls after the commit.

    Examples:
        >>> # with FaultInjector(app).armed(fail_at=3): app.refunds.reverse(...)
    """

    def __init__(self, app: AfterSales) -> None:
        self._app = app
        self.calls: list[str] = []
        self.fail_at: int | None = None
        self.after_commit = False
        self.committed_at: int | None = None

    @property
    def before_commit(self) -> int:
        """How many hook calls the block made before its unit of work committed."""
        return len(self.calls) if self.committed_at is None else self.committed_at - 1

    def _before(self, hook_name: str, _impls: Sequence[Any], _kwargs: Mapping[str, Any]) -> None:
        self.calls.append(hook_name)
        if self.committed_at is None and hook_name in AFTER_COMMIT_HOOKS:
            self.committed_at = len(self.calls)
        if self.after_commit:
            if self.committed_at is None:
                return
            number = len(self.calls) - self.committed_at + 1
        else:
            if self.committed_at is not None:
                return
            number = len(self.calls)
        if number == self.fail_at:
            raise InjectedFault(hook_name, len(self.calls))

    def _after(self, *_args: Any) -> None:
        return None

    @contextmanager
    def armed(
        self, fail_at: int | None = None, *, after_commit: bool = False
    ) -> Iterator[FaultInjector]:
        """Count (and, with `fail_at`, break) the hook calls made inside the block."""
        self.calls = []
        self.fail_at = fail_at
        self.after_commit = after_commit
        self.committed_at = None
        undo = self._app.pm.add_hookcall_monitoring(self._before, self._after)
        try:
            yield self
        finally:
            undo()


@attrs.frozen
class SweepReport:
    """What `sweep_faults()` tried: one fault at every hook call of one call."""

    name: str
    hook_calls: int
    faults_injected: int


def sweep_faults(
    app: AfterSales, backend: Snapshotting, call: Callable[[], object], name: str = "call"
) -> SweepReport:
    """Fail `call` at its 1st, 2nd, … hook call until it succeeds.

    Each failed attempt must leave the whole store exactly as it was (the snapshot compares
    every table, outbox and delivered mail included). The final attempt runs with no fault
    before its commit and must succeed (the delivery of its emails after the commit is not
    broken here). Returns how many faults were injected.
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
