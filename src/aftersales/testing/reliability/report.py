"""The figures of ``docs/reliability.md``: run the reliability suite and print what it tried.

Regenerate the page's figures with::

    python -m aftersales.testing.reliability.report > docs/reliability-figures.md

It runs every check on a fresh backend per check (the memory backend by default;
``--backend NAME`` takes an installed backend) and fails, printing nothing, if a promise
is broken. The figures depend only on the tables of the suite (flows, calls, races,
models), never on timing, so the committed page changes only when the suite does.
``--count`` prints the same figures without running the long checks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence

import attrs

from aftersales.app import AfterSales
from aftersales.clock import FrozenClock
from aftersales.testing.faults import FaultInjector
from aftersales.testing.reliability.checks import (
    check_after_commit,
    check_conflict,
    check_replay,
    inject_faults,
)
from aftersales.testing.reliability.concurrency import (
    RACES,
    check_bounded_retries,
    check_transient_conflicts,
    run_race,
)
from aftersales.testing.reliability.flows import FLOWS, Flow, mutating_calls
from aftersales.testing.reliability.hostile import (
    CALLS,
    PublicCall,
    cases,
    check_case,
    prepare_targets,
    public_calls,
)
from aftersales.testing.reliability.models import MODEL_RUNS, CouponModel, RepairModel, run_model
from aftersales.testing.reliability.setting import ReliabilityBackend, Setting

__all__ = ["Figures", "main", "measure", "render"]

START = "2026-11-28T09:00:00+00:00"

BackendFactory = Callable[[], ReliabilityBackend]


@attrs.frozen(kw_only=True)
class Figures:
    """What the suite tried, all with zero changes left behind by a refusal or a fault."""

    flows: int
    mutating_calls: int
    faults: tuple[tuple[str, int], ...]
    after_commit_faults: int
    races: tuple[tuple[str, str, int, int, int], ...]
    retries: int
    transient_workers: int
    public_calls: int
    parameters: int
    hostile: tuple[tuple[str, int], ...]
    by_call: tuple[tuple[str, int], ...]
    models: tuple[tuple[str, int, int], ...]

    @property
    def fault_total(self) -> int:
        return sum(n for _, n in self.faults)

    @property
    def hostile_total(self) -> int:
        return sum(n for _, n in self.hostile)


def _memory() -> ReliabilityBackend:
    from aftersales.backends.memory import MemoryBackend

    return MemoryBackend()


def _setting(factory: BackendFactory) -> Setting:
    backend = factory()
    app = AfterSales(backend, clock=FrozenClock(START))
    return Setting.create(app, backend)


def _hook_calls(setting: Setting, flow: Flow) -> int:
    """The hook calls ``flow`` makes before its commit: the faults the sweep injects."""
    injector = FaultInjector(setting.app)
    state = flow.prepare(setting)
    with injector.armed():
        flow.perform(setting, state, "rl-count")
    return injector.before_commit


def _takes_key(call: PublicCall, signatures: dict[str, tuple[str, ...]]) -> bool:
    return "idempotency_key" in signatures[call.name]


def measure(
    factory: BackendFactory = _memory,
    *,
    verify: bool = True,
    progress: Callable[[str], None] = lambda _line: None,
) -> Figures:
    """Run the reliability suite (``verify``) or only count what it tries, and return the
    figures. A broken promise raises :class:`AssertionError`."""
    probe = _setting(factory)
    signatures = public_calls(probe.app)
    calls = mutating_calls(probe.app)

    faults: list[tuple[str, int]] = []
    for flow in FLOWS:
        progress(f"faults: {flow.name}")
        if verify:
            result = inject_faults(_setting(factory), flow)
            check_replay(_setting(factory), flow)
            check_conflict(_setting(factory), flow)
            faults.append((flow.name, result.faults))
        else:
            faults.append((flow.name, _hook_calls(_setting(factory), flow)))

    after = 0
    for flow in (f for f in FLOWS if f.emails):
        if verify:
            after += check_after_commit(_setting(factory), flow).faults
        else:
            setting = _setting(factory)
            injector = FaultInjector(setting.app)
            with injector.armed():
                flow.perform(setting, flow.prepare(setting), None)
            after += len(injector.calls) - injector.before_commit

    races = []
    for race in RACES:
        progress(f"race: {race.name}")
        report = run_race(_setting(factory), race)
        races.append((race.name, race.rule, report.workers, report.succeeded, report.refused))
    progress("bounded retries")
    retries = check_bounded_retries(_setting(factory))
    transient = len(check_transient_conflicts(_setting(factory)))

    hostile: Counter[str] = Counter()
    by_call: list[tuple[str, int]] = []
    parameters = 0
    for call in CALLS:
        progress(f"hostile input: {call.name}")
        found = list(cases(call, takes_key=_takes_key(call, signatures)))
        parameters += len({case.param for case in found})
        by_call.append((call.name, len(found)))
        setting = _setting(factory) if verify else probe
        targets = prepare_targets(setting) if verify else None
        for case in found:
            hostile[case.hostile.expected.__name__] += 1
            if targets is not None:
                problem = check_case(setting, targets, case)
                if problem:
                    raise AssertionError(f"{case.id}: {problem}")

    models = []
    for name, machine in (("coupons", CouponModel), ("repairs", RepairModel)):
        examples, steps = MODEL_RUNS[name]
        if verify:
            progress(f"model: {name}")
            run_model(machine, _setting(factory), max_examples=examples, steps=steps)
        models.append((name, examples, steps))

    return Figures(
        flows=len(FLOWS),
        mutating_calls=len(calls),
        faults=tuple(faults),
        after_commit_faults=after,
        races=tuple(races),
        retries=retries,
        transient_workers=transient,
        public_calls=len(CALLS),
        parameters=parameters,
        hostile=tuple(sorted(hostile.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_call=tuple(by_call),
        models=tuple(models),
    )


def render(figures: Figures) -> str:
    """The figures as the Markdown included in ``docs/reliability.md``."""
    f = figures
    out = [
        "<!-- Generated by `python -m aftersales.testing.reliability.report`; do not edit. -->",
        "",
        "| promise | what the suite tried | lost or corrupted |",
        "|---|---|---|",
        f"| RL-1 atomic calls | {f.fault_total} faults: every hook call of {f.flows} flows "
        f"covering all {f.mutating_calls} mutating calls, one at a time; "
        f"{f.after_commit_faults} more after a commit | 0 |",
        f"| RL-2 idempotent calls | {f.flows} replays, {f.flows} conflicting reuses of a key, "
        f"{f.flows} retries after {f.fault_total} broken attempts | 0 |",
        f"| RL-3 caps under concurrency | {len(f.races)} races of "
        f"{sum(r[2] for r in f.races)} concurrent workers | 0 |",
        f"| RL-4 bad input | {f.hostile_total} hostile values for {f.parameters} parameters "
        f"of {f.public_calls} public calls | 0 |",
        f"| RL-5 bounded retries | a conflict given up after {f.retries} attempts; "
        f"{f.transient_workers} workers retried once each | 0 |",
        "",
        "### Faults injected per flow (RL-1)",
        "",
        "| flow | faults |",
        "|---|---:|",
        *(f"| `{name}` | {count} |" for name, count in f.faults),
        f"| **total** | **{f.fault_total}** |",
        "",
        "### Concurrent workers (RL-3)",
        "",
        "| race | rule | workers | went through | refused |",
        "|---|---|---:|---:|---:|",
        *(f"| {name} | {rule} | {w} | {ok} | {no} |" for name, rule, w, ok, no in f.races),
        "",
        "### Hostile input by expected refusal (RL-4)",
        "",
        "| refusal | cases |",
        "|---|---:|",
        *(f"| `{name}` | {count} |" for name, count in f.hostile),
        f"| **total** | **{f.hostile_total}** |",
        "",
        "### Hostile input per call (RL-4)",
        "",
        "| call | cases |",
        "|---|---:|",
        *(f"| `{name}` | {count} |" for name, count in f.by_call),
        "",
        "### Stateful models",
        "",
        "| model | examples | steps each |",
        "|---|---:|---:|",
        *(f"| {name} | {examples} | up to {steps} |" for name, examples, steps in f.models),
        "",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aftersales.testing.reliability.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", default=None, help="an installed backend (default: memory)")
    parser.add_argument(
        "--count", action="store_true", help="count what the suite tries without running it"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    # Faults after a commit are logged by the library; the report only prints figures.
    logging.getLogger("aftersales").addHandler(logging.NullHandler())
    logging.getLogger("aftersales").propagate = False
    factory: BackendFactory = _memory
    if args.backend is not None:
        from aftersales.plugins import load_backend

        name: str = args.backend

        def factory() -> ReliabilityBackend:
            backend = load_backend(name)
            if not isinstance(backend, ReliabilityBackend):
                raise SystemExit(f"backend {name!r} has no builder() and snapshot()")
            return backend

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    figures = measure(factory, verify=not args.count, progress=progress)
    sys.stdout.write(render(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
