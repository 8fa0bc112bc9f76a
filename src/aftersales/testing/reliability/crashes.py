"""RL-1 when the process dies: a caller killed in the middle of a unit of work leaves nothing.

For a backend shared by several processes (SQLite, PostgreSQL): a spawned process makes
the call of a `Flow`, does all of its work
(every document, link, trail message, audit entry, outbox email and the idempotency key
written in the open transaction) and stops where the unit of work would commit; the parent
kills it with `SIGKILL`. The store must be exactly as before, and the same call under the
same idempotency key must then go through, doing all the work once.

The processes are spawned together (starting an interpreter is the slow part) and killed
one at a time, each on its own target.

Examples:
    >>> # results = check_crashes(setting, [flow_named("coupons.send")], factory, START)
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Sequence
from typing import Any

import attrs

from aftersales.hookspecs import hookimpl
from aftersales.testing.faults import FaultInjector
from aftersales.testing.reliability.flows import Flow, flow_named
from aftersales.testing.reliability.setting import Setting, touched
from aftersales.testing.scenario import Scenario
from aftersales.testing.snapshots import diff
from aftersales.testing.witness import Witness
from aftersales.unit_of_work import UnitOfWork

__all__ = ["CRASH_FLOWS", "CrashResult", "check_crashes", "crash_flows", "crash_worker"]

#: One mutating call of each service, the one that writes the most, killed before its commit.
CRASH_FLOWS: tuple[str, ...] = (
    "settings.configure",
    "subscription.register_paid",
    "refunds.reverse[full_and_reinvoice]",
    "coupons.send",
    "returns.create",
    "repairs.create_invoice[after_repair]",
    "field_service.create_and_view_task",
)

#: Seconds a child may take to start and reach its commit.
TIMEOUT = 120.0


def _key(flow: Flow) -> str:
    """The idempotency key of the killed call and of its retry."""
    return f"rl-crash-{flow.name}"


@attrs.frozen
class CrashResult:
    """One call killed before its commit: how many hook calls it had made by then, and
    how many rows of each table the retry under the same key then wrote."""

    flow: str
    hook_calls: int
    retry_touched: tuple[tuple[str, int], ...]


class _StallAtCommit:
    """Joins each writing unit of work first, so that its commit runs before the
    backend's: there it reports how many hook calls were made, then waits to be killed."""

    name = "aftersales-reliability-stall-at-commit"

    def __init__(self, report: Any) -> None:
        self.report = report
        self.calls = 0

    def count(self, _hook: str, _impls: Any, _kwargs: Any) -> None:
        self.calls += 1

    @hookimpl(tryfirst=True)
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        if uow.writes:
            uow.enlist(self)

    def commit(self) -> None:
        self.report.send(self.calls)
        while True:  # the parent kills the process here
            time.sleep(60)

    def rollback(self) -> None:
        return None


def crash_worker(
    factory: Any,
    start: str,
    flow_name: str,
    scenario: Scenario,
    state: Any,
    go: Any,
    report: Any,
) -> None:
    """In a spawned process: open the backend, wait for `go`, make the flow's call under
    its idempotency key and stop at its commit (see `_StallAtCommit`)."""
    from aftersales.app import AfterSales
    from aftersales.clock import FrozenClock

    backend = factory()
    stall = _StallAtCommit(report)
    app = AfterSales(backend, clock=FrozenClock(start), plugins=[stall])
    app.pm.add_hookcall_monitoring(stall.count, lambda *_: None)
    setting = Setting(
        app=app,
        backend=backend,
        world=backend.builder(app.clock),
        scenario=scenario,
        witness=Witness(),
    )
    flow = flow_named(flow_name)
    report.send("ready")
    if not go.wait(TIMEOUT):
        raise SystemExit("never told to go")
    stall.calls = 0
    flow.perform(setting, state, _key(flow))
    report.send("committed")  # never reached: the call stops at its commit


def check_crashes(
    setting: Setting, flows: Sequence[Flow], factory: Any, start: str
) -> list[CrashResult]:
    """Kill a process in the middle of each of `flows` (before its commit) and check
    that nothing of it remains; then make the same call under the same key in `setting`
    and check it does all the work once. `factory` opens the backend of `setting` in
    another process (picklable, such as `functools.partial(SqlBackend, url)`)."""
    context = multiprocessing.get_context("spawn")
    states = [flow.prepare(setting) for flow in flows]
    children = []
    for flow, state in zip(flows, states, strict=True):
        go = context.Event()
        parent_end, child_end = context.Pipe(duplex=False)
        process = context.Process(
            target=crash_worker,
            args=(factory, start, flow.name, setting.scenario, state, go, child_end),
            daemon=True,
        )
        process.start()
        child_end.close()
        children.append((flow, state, process, go, parent_end))
    results: list[CrashResult] = []
    try:
        for flow, _state, process, _go, report in children:
            _expect(report, "ready", flow, process)
        for flow, state, process, go, report in children:
            results.append(_crash_one(setting, flow, state, process, go, report))
    finally:
        for _flow, _state, process, _go, _report in children:
            if process.is_alive():
                process.kill()
            process.join(TIMEOUT)
    return results


def _expect(report: Any, what: str, flow: Flow, process: Any) -> object:
    if not report.poll(TIMEOUT):
        raise AssertionError(
            f"{flow.name}: the process sent nothing within {TIMEOUT}s (exit code "
            f"{process.exitcode})"
        )
    try:
        got = report.recv()
    except EOFError:
        raise AssertionError(
            f"{flow.name}: the process ended before it was {what} (exit code "
            f"{process.join(TIMEOUT) or process.exitcode})"
        ) from None
    if what == "ready" and got != "ready":
        raise AssertionError(f"{flow.name}: the process said {got!r}, not ready")
    return got


def _crash_one(
    setting: Setting, flow: Flow, state: Any, process: Any, go: Any, report: Any
) -> CrashResult:
    before = setting.snapshot()
    setting.witness.clear()
    go.set()
    calls = _expect(report, "at its commit", flow, process)
    if not isinstance(calls, int):
        raise AssertionError(f"{flow.name}: the call went through: {calls!r}")
    process.kill()
    process.join(TIMEOUT)
    if process.exitcode != -signal.SIGKILL:
        raise AssertionError(f"{flow.name}: the process ended with {process.exitcode}, not killed")
    after = setting.snapshot()
    if after != before:
        raise AssertionError(
            f"{flow.name}: a process killed before its commit left changes behind:\n"
            f"{diff(before, after)}"
        )
    if not setting.witness.quiet:
        raise AssertionError(f"{flow.name}: something went out: {setting.witness.seen()}")
    # The key was never stored: the same call goes through, all of it, once.
    injector = FaultInjector(setting.app)
    with injector.armed():
        first = flow.perform(setting, state, _key(flow))
    if injector.before_commit != calls:
        raise AssertionError(
            f"{flow.name}: the killed call had made {calls} hook calls, the retry "
            f"{injector.before_commit}: it was not stopped at its commit"
        )
    done = setting.snapshot()
    if flow.perform(setting, state, _key(flow)) != first or setting.snapshot() != done:
        raise AssertionError(f"{flow.name}: the retry did not replay")
    return CrashResult(
        flow=flow.name,
        hook_calls=calls,
        retry_touched=tuple(sorted(touched(after, done).items())),
    )


def crash_flows() -> list[Flow]:
    """The flows of `CRASH_FLOWS`."""
    return [flow_named(name) for name in CRASH_FLOWS]
