"""The checks of RL-1 and RL-2 for one `Flow`.

Each check raises `AssertionError` with a precise message when a promise is broken
and returns what it measured, for the figures of `docs/reliability.md`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from aftersales.errors import IdempotencyConflict
from aftersales.models import AuditEntry, EmailState
from aftersales.testing.faults import FaultInjector, InjectedFault
from aftersales.testing.reliability.flows import Flow
from aftersales.testing.reliability.setting import Setting, touched
from aftersales.testing.snapshots import diff

__all__ = [
    "AfterCommitResult",
    "FaultResult",
    "check_after_commit",
    "check_audit",
    "check_conflict",
    "check_replay",
    "inject_faults",
]


@attrs.frozen
class FaultResult:
    """What `inject_faults()` tried on one flow."""

    flow: str
    hook_calls: int
    faults: int


@attrs.frozen
class AfterCommitResult:
    """What `check_after_commit()` tried on one flow."""

    flow: str
    faults: int


def _unchanged(setting: Setting, before: dict[str, dict[Any, Any]], what: str) -> None:
    after = setting.snapshot()
    if after != before:
        raise AssertionError(f"{what} left changes behind:\n{diff(before, after)}")
    if not setting.witness.quiet:
        raise AssertionError(f"{what} let something out: {setting.witness.seen()}")


def inject_faults(setting: Setting, flow: Flow, *, key: str = "rl-faults") -> FaultResult:
    """RL-1 and RL-2 under faults: break the 1st, 2nd, … hook call of `flow` until it
    goes through, then check that it went through exactly once.

    * every broken attempt leaves the whole store as it was, dispatches no event and
      delivers no email;
    * no fault is swallowed: a call that succeeds had no fault before its commit;
    * the attempt that goes through (under the same idempotency key as the broken ones)
      touches as many rows of each table, and dispatches as many events, as a clean run of
      the same call on an equivalent target (for a `repeatable` flow);
    * replaying the key afterwards returns the same result and changes nothing.
    """
    clean: dict[str, int] | None = None
    clean_events = 0
    if flow.repeatable:
        reference = flow.prepare(setting)
        before = setting.snapshot()
        setting.witness.clear()
        flow.perform(setting, reference, f"{key}-clean-{setting.serial()}")
        clean = touched(before, setting.snapshot())
        clean_events = len(setting.witness.events)

    state = flow.prepare(setting)
    injector = FaultInjector(setting.app)
    start = setting.snapshot()
    number = 0
    while True:
        number += 1
        setting.witness.clear()
        with injector.armed(fail_at=number):
            try:
                result = flow.perform(setting, state, key)
            except InjectedFault as fault:
                _unchanged(
                    setting, start, f"{flow.name}: a fault at hook call #{number} ({fault.hook})"
                )
                continue
        break
    if injector.before_commit >= number:
        raise AssertionError(
            f"{flow.name}: the fault at hook call #{number} ({injector.calls[number - 1]}) "
            "was swallowed: the call succeeded anyway"
        )
    end = setting.snapshot()
    if clean is not None:
        made = touched(start, end)
        if made != clean:
            raise AssertionError(
                f"{flow.name}: after {number - 1} broken attempts the call did not do exactly "
                f"what one clean call does: touched {made}, a clean call touched {clean}"
            )
        if len(setting.witness.events) != clean_events:
            raise AssertionError(
                f"{flow.name}: the successful retry dispatched {setting.witness.seen()}, "
                f"a clean call {clean_events} events"
            )
    setting.witness.clear()
    again = flow.perform(setting, state, key)
    if again != result:
        raise AssertionError(f"{flow.name}: the replay returned {again!r}, not {result!r}")
    _unchanged(setting, end, f"{flow.name}: replaying the key after the retry")
    return FaultResult(flow=flow.name, hook_calls=injector.before_commit, faults=number - 1)


def check_replay(setting: Setting, flow: Flow) -> None:
    """RL-2: the same key and arguments return the first result and change nothing.

    RL-6 on the way: the first call appends audit entries (actor, time, the key) and leaves
    every earlier entry as it was.
    """
    state = flow.prepare(setting)
    key = f"rl-replay-{setting.serial()}"
    hooks = setting.app.hooks
    trail = list(hooks.audit_list())
    first = flow.perform(setting, state, key)
    check_audit(setting, flow, trail, key)
    before = setting.snapshot()
    setting.witness.clear()
    again = flow.perform(setting, state, key)
    if again != first:
        raise AssertionError(f"{flow.name}: the replay returned {again!r}, not {first!r}")
    _unchanged(setting, before, f"{flow.name}: the replay")


def check_audit(setting: Setting, flow: Flow, before: list[AuditEntry], key: str) -> None:
    """RL-6: the call appended entries naming the actor, the time and the key; the entries
    that were there are unchanged and still in place."""
    after = list(setting.app.hooks.audit_list())
    if after[: len(before)] != before:
        raise AssertionError(f"{flow.name}: the audit trail was edited, not appended to")
    added = after[len(before) :]
    if not added:
        raise AssertionError(f"{flow.name}: the change left no audit entry")
    now = setting.app.clock.now()
    for entry in added:
        if entry.idempotency_key != key or entry.at != now or not entry.actor_id:
            raise AssertionError(f"{flow.name}: audit entry {entry!r} lacks the key, time or actor")


def check_conflict(setting: Setting, flow: Flow) -> IdempotencyConflict:
    """RL-2: the same key with other (valid) arguments raises
    [`IdempotencyConflict`][aftersales.errors.IdempotencyConflict] and changes nothing. Returns the
    refusal, for its message."""
    state = flow.prepare(setting)
    key = f"rl-conflict-{setting.serial()}"
    flow.perform(setting, state, key)
    before = setting.snapshot()
    setting.witness.clear()
    try:
        flow.vary(setting, state, key)
    except IdempotencyConflict as refusal:
        _unchanged(setting, before, f"{flow.name}: the conflicting call")
        conflict = refusal
    else:
        raise AssertionError(f"{flow.name}: other arguments under the same key went through")
    # The other arguments were valid: they go through on a target of their own.
    flow.vary(setting, flow.prepare(setting), None)
    return conflict


def check_after_commit(setting: Setting, flow: Flow) -> AfterCommitResult:
    """RL-1 after the commit: a failure while delivering the call's emails never fails the
    call (it has committed); the email stays in the outbox and a retry delivers it.

    Returns how many faults were tried: one per hook call made after the commit.
    """
    injector = FaultInjector(setting.app)
    with injector.armed():
        flow.perform(setting, flow.prepare(setting), None)
    after = len(injector.calls) - injector.before_commit
    for number in range(1, after + 1):
        state = flow.prepare(setting)
        key = f"rl-after-{setting.serial()}"
        setting.witness.clear()
        with injector.armed(fail_at=number, after_commit=True):
            result = flow.perform(setting, state, key)
        if not setting.witness.events:
            raise AssertionError(f"{flow.name}: the call committed but dispatched no event")
        if flow.perform(setting, state, key) != result:
            raise AssertionError(f"{flow.name}: the committed call does not replay")
        outbox = setting.app.outbox
        manager = setting.manager
        if number == 1 and not any(
            e.state is EmailState.FAILED for e in outbox.emails(pending_only=True, actor=manager)
        ):
            raise AssertionError(f"{flow.name}: a failed delivery was not kept for a retry")
        outbox.retry(actor=manager, stale_after=timedelta(0))
        if outbox.emails(pending_only=True, actor=manager):
            raise AssertionError(f"{flow.name}: an email was left undelivered after a retry")
    return AfterCommitResult(flow=flow.name, faults=after)
