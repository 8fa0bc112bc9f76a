"""The figures of `docs/reliability.md`: run the reliability suite on every backend and
print what it tried.

Regenerate the page's figures with:

```text
python -m aftersales.testing.reliability.report > docs/reliability-figures.md
```

It runs every check on the memory backend, on SQLite (files in a temporary directory) and on
PostgreSQL (a throw-away server, as the tests start one: the server binaries must be
installed), each check on a store of its own, and fails, printing nothing, if a promise is
broken. On the databases the races run on worker processes and a process is killed in the
middle of one call of each service. `--backend` (repeatable) measures only some of
`memory`, `sqlite`, `postgresql` or another installed backend (on threads).

The figures depend only on the tables of the suite (flows, calls, races, models), never on
timing, so the committed page changes only when the suite does. `--count` prints the same
figures without the long checks (fault sweeps, hostile input, models, crashes): it counts
the hook calls of each flow and runs the races.
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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
    PROCESSES,
    RACES,
    Runner,
    check_bounded_retries,
    check_transient_conflicts,
    processes,
    run_race,
)
from aftersales.testing.reliability.crashes import CRASH_FLOWS, check_crashes, crash_flows
from aftersales.testing.reliability.flows import FLOWS, Flow, mutating_calls
from aftersales.testing.reliability.hostile import (
    CALLS,
    PublicCall,
    cases,
    check_cases,
    prepare_targets,
    public_calls,
)
from aftersales.testing.reliability.models import (
    DATABASE_MODEL_RUNS,
    MODEL_RUNS,
    CouponModel,
    RepairModel,
    run_model,
)
from aftersales.testing.reliability.setting import ReliabilityBackend, Setting

if TYPE_CHECKING:
    from aftersales.testing.conformance.processes import WorkerPool
    from aftersales.testing.postgres import PostgresServer

__all__ = [
    "Figures",
    "Subject",
    "main",
    "measure",
    "memory_subject",
    "postgres_subject",
    "render",
    "sqlite_subject",
]

START = "2026-11-28T09:00:00+00:00"

T = TypeVar("T")

BUILT_IN = ("memory", "sqlite", "postgresql")


@attrs.frozen(kw_only=True)
class Subject:
    """A backend the suite is measured on.

    `open()` returns a new backend over a store of its own (one per check) and
    `close(backend)` disposes of it. `url(backend)` is set for a database shared by
    processes: races then run on worker processes that open it, and a process is killed in
    the middle of one call of each service.
    """

    name: str
    label: str
    open: Callable[[], ReliabilityBackend]
    close: Callable[[ReliabilityBackend], None] = lambda _backend: None
    url: Callable[[ReliabilityBackend], str] | None = None
    model_runs: Mapping[str, tuple[int, int]] = MODEL_RUNS


def memory_subject() -> Subject:
    from aftersales.backends.memory import MemoryBackend

    return Subject(name="memory", label="memory", open=MemoryBackend)


def _close_sql(backend: Any) -> None:
    backend.close()


def _sql_url(backend: Any) -> str:
    url: str = backend.db.url.render_as_string(hide_password=False)
    return url


def sqlite_subject(directory: Path) -> Subject:
    """SQLite files in `directory`: copies of one migrated template, removed when done."""
    from aftersales.backends.sql import SqlBackend

    template = directory / "template.db"
    SqlBackend(template).close()  # the last connection to close checkpoints the WAL
    numbers = count(1)

    def open_copy() -> ReliabilityBackend:
        path = directory / f"store-{next(numbers)}.db"
        shutil.copyfile(template, path)
        return SqlBackend(path)

    def close(backend: Any) -> None:
        backend.close()
        database = Path(backend.db.url.database)
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)

    return Subject(
        name="sqlite",
        label="SQLite",
        open=open_copy,
        close=close,
        url=_sql_url,
        model_runs=DATABASE_MODEL_RUNS,
    )


def postgres_subject(server: PostgresServer) -> Subject:
    """One migrated database on `server`, emptied for each check (the checks run one after
    the other; emptying is much faster than creating a database)."""
    from aftersales.backends.sql import SqlBackend

    url = server.create_database(f"aftersales_report_{next(_DATABASES)}")
    SqlBackend(url).close()

    def open_empty() -> ReliabilityBackend:
        backend = SqlBackend(url)
        backend.reset()
        return backend

    return Subject(
        name="postgresql",
        label="PostgreSQL",
        open=open_empty,
        close=_close_sql,
        url=_sql_url,
        model_runs=DATABASE_MODEL_RUNS,
    )


_DATABASES = count(1)


def installed_subject(name: str) -> Subject:
    """Another installed backend (by its entry-point name), measured on threads."""
    from aftersales.plugins import load_backend

    def open_new() -> ReliabilityBackend:
        backend = load_backend(name)
        if not isinstance(backend, ReliabilityBackend):
            raise SystemExit(f"backend {name!r} has no builder() and snapshot()")
        return backend

    return Subject(name=name, label=name, open=open_new)


@attrs.frozen(kw_only=True)
class Figures:
    """What the suite tried on one backend, all with zero changes left behind by a refusal,
    a fault or a crash."""

    backend: str
    flows: int
    mutating_calls: int
    faults: tuple[tuple[str, int], ...]
    after_commit_faults: int
    races: tuple[tuple[str, str, int, int, int], ...]
    concurrent: int
    on_processes: bool
    retries: int
    transient_workers: int
    lock_held: int | None
    crashes: tuple[tuple[str, int], ...]
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

    @property
    def race_calls(self) -> int:
        return sum(r[2] for r in self.races)


@contextmanager
def _setting(subject: Subject) -> Iterator[Setting]:
    backend = subject.open()
    try:
        yield Setting.create(AfterSales(backend, clock=FrozenClock(START)), backend)
    finally:
        subject.close(backend)


def _hook_calls(setting: Setting, flow: Flow) -> int:
    """The hook calls `flow` makes before its commit: the faults the sweep injects."""
    injector = FaultInjector(setting.app)
    state = flow.prepare(setting)
    with injector.armed():
        flow.perform(setting, state, "rl-count")
    return injector.before_commit


def _after_commit_calls(setting: Setting, flow: Flow) -> int:
    injector = FaultInjector(setting.app)
    with injector.armed():
        flow.perform(setting, flow.prepare(setting), None)
    return len(injector.calls) - injector.before_commit


def measure(
    subject: Subject | None = None,
    *,
    verify: bool = True,
    progress: Callable[[str], None] = lambda _line: None,
    pool: WorkerPool | None = None,
) -> Figures:
    """Run the reliability suite on `subject` (the memory backend by default; `verify`)
    or only count what it tries, and return the figures. A broken promise raises
    `AssertionError`. `pool` lends the worker processes of a database's races."""
    subject = subject or memory_subject()
    with ExitStack() as stack:
        if subject.url is not None and pool is None:
            from aftersales.testing.conformance.processes import WorkerPool

            pool = stack.enter_context(WorkerPool(PROCESSES))
        return _measure(subject, verify, lambda line: progress(f"{subject.label}: {line}"), pool)


def _measure(
    subject: Subject,
    verify: bool,
    progress: Callable[[str], None],
    pool: WorkerPool | None,
) -> Figures:
    with _setting(subject) as probe:
        signatures = public_calls(probe.app)
        calls = mutating_calls(probe.app)

    faults: list[tuple[str, int]] = []
    for flow in FLOWS:
        progress(f"faults: {flow.name}")
        if verify:
            with _setting(subject) as setting:
                result = inject_faults(setting, flow)
            with _setting(subject) as setting:
                check_replay(setting, flow)
            with _setting(subject) as setting:
                check_conflict(setting, flow)
            faults.append((flow.name, result.faults))
        else:
            with _setting(subject) as setting:
                faults.append((flow.name, _hook_calls(setting, flow)))

    after = 0
    for flow in (f for f in FLOWS if f.emails):
        with _setting(subject) as setting:
            after += (
                check_after_commit(setting, flow).faults
                if verify
                else _after_commit_calls(setting, flow)
            )

    races = []
    concurrent = 0
    for race in RACES:
        progress(f"race: {race.name}")
        with _setting(subject) as setting:
            runner: Runner | None = None
            if subject.url is not None and pool is not None:
                url = subject.url(setting.backend)
                runner = processes(pool, _factory(url), START)
            report = run_race(setting, race, runner)
        concurrent = max(concurrent, report.concurrent)
        races.append((race.name, race.rule, report.workers, report.succeeded, report.refused))
    progress("bounded retries")
    with _setting(subject) as setting:
        retries = check_bounded_retries(setting)
    with _setting(subject) as setting:
        transient = len(check_transient_conflicts(setting))

    lock_held: int | None = None
    crashes: tuple[tuple[str, int], ...] = ()
    if subject.url is not None:
        progress("a lock held by another connection, processes killed before their commit")
        if verify:
            from aftersales.testing.reliability.sql import check_lock_held

            with _setting(subject) as setting:
                lock_held = check_lock_held(setting, subject.url(setting.backend))
            with _setting(subject) as setting:
                killed = check_crashes(
                    setting, crash_flows(), _factory(subject.url(setting.backend)), START
                )
            crashes = tuple((r.flow, r.hook_calls) for r in killed)
        else:
            lock_held = max(retries, 1)
            counted = dict(faults)
            crashes = tuple((name, counted[name]) for name in CRASH_FLOWS)

    hostile: Counter[str] = Counter()
    by_call: list[tuple[str, int]] = []
    parameters = 0
    for call in CALLS:
        found = list(cases(call, takes_key=_takes_key(call, signatures)))
        parameters += len({case.param for case in found})
        by_call.append((call.name, len(found)))
        for case in found:
            hostile[case.hostile.expected.__name__] += 1
        if verify:
            progress(f"hostile input: {call.name}")
            with _setting(subject) as setting:
                problems = check_cases(setting, prepare_targets(setting), found)
            if problems:
                raise AssertionError(f"{call.name}:\n" + "\n".join(problems))

    models = []
    for name, machine in (("coupons", CouponModel), ("repairs", RepairModel)):
        examples, steps = subject.model_runs[name]
        if verify:
            progress(f"model: {name}")
            with _setting(subject) as setting:
                run_model(machine, setting, max_examples=examples, steps=steps)
        models.append((name, examples, steps))

    return Figures(
        backend=subject.label,
        flows=len(FLOWS),
        mutating_calls=len(calls),
        faults=tuple(faults),
        after_commit_faults=after,
        races=tuple(races),
        concurrent=concurrent,
        on_processes=subject.url is not None,
        retries=retries,
        transient_workers=transient,
        lock_held=lock_held,
        crashes=crashes,
        public_calls=len(CALLS),
        parameters=parameters,
        hostile=tuple(sorted(hostile.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_call=tuple(by_call),
        models=tuple(models),
    )


def _factory(url: str) -> Callable[[], Any]:
    from aftersales.backends.sql import SqlBackend

    return functools.partial(SqlBackend, url)


def _takes_key(call: PublicCall, signatures: dict[str, tuple[str, ...]]) -> bool:
    return "idempotency_key" in signatures[call.name]


# -- the page -------------------------------------------------------------------------------


def _row(label: str, cells: Sequence[object]) -> str:
    return f"| {label} | " + " | ".join(str(c) for c in cells) + " |"


def _same_rows(tables: Sequence[Sequence[T]]) -> Sequence[T]:
    """The rows of a table that is the same on every backend (by the suite's asserts)."""
    first = tables[0]
    for other in tables[1:]:
        if list(other) != list(first):
            raise ValueError(f"the backends differ: {first} and {other}")
    return first


def render(figures: Figures | Sequence[Figures]) -> str:
    """The figures of one or more backends as the Markdown included in
    `docs/reliability.md`, a column per backend."""
    every = [figures] if isinstance(figures, Figures) else list(figures)
    f = every[0]
    head = _row("", [x.backend for x in every]).replace("|  |", "| what the suite tried |", 1)
    rule = "|---|" + "---:|" * len(every)

    def per(cell: Callable[[Figures], object]) -> list[object]:
        return [cell(x) for x in every]

    def runner(x: Figures) -> str:
        return f"{x.concurrent} processes" if x.on_processes else "threads"

    def models(x: Figures) -> str:
        return ", ".join(f"{examples} × {steps}" for _name, examples, steps in x.models)

    out = [
        "<!-- Generated by `python -m aftersales.testing.reliability.report`; do not edit. -->",
        "",
        head,
        rule,
        _row(
            f"RL-1 faults, one at every hook call of {f.flows} flows covering all "
            f"{f.mutating_calls} mutating calls",
            per(lambda x: x.fault_total),
        ),
        _row(
            "RL-1 faults after a commit, while delivering email",
            per(lambda x: x.after_commit_faults),
        ),
        _row(
            "RL-1 processes killed before their commit, one call of each service",
            per(lambda x: len(x.crashes) if x.on_processes else "—"),
        ),
        _row(
            "RL-2 replays, conflicting reuses of a key, retries after broken attempts (each)",
            per(lambda x: x.flows),
        ),
        _row(f"RL-3 concurrent calls in {len(f.races)} races", per(lambda x: x.race_calls)),
        _row("RL-3 … made by", per(runner)),
        _row(
            f"RL-4 hostile values for {f.parameters} parameters of {f.public_calls} public calls",
            per(lambda x: x.hostile_total),
        ),
        _row("RL-5 attempts before a conflict that never clears fails", per(lambda x: x.retries)),
        _row(
            "RL-5 attempts before a lock another connection holds fails the call",
            per(lambda x: "—" if x.lock_held is None else x.lock_held),
        ),
        _row("RL-5 workers retried once each after a conflict", per(lambda x: x.transient_workers)),
        _row("stateful models, examples × steps (coupons, repairs)", per(models)),
        _row("**lost or corrupted**", per(lambda _x: "**0**")),
        "",
        "### Faults injected per flow (RL-1)",
        "",
        _row("flow", [x.backend for x in every]),
        rule,
        *(_row(f"`{name}`", [dict(x.faults)[name] for x in every]) for name, _count in f.faults),
        _row("**total**", [f"**{x.fault_total}**" for x in every]),
        "",
    ]
    killed = [x for x in every if x.on_processes]
    if killed:
        out += [
            "### Processes killed before their commit (RL-1)",
            "",
            "Hook calls each call had made, all of its work in the open transaction, when its",
            "process was killed; the database was left exactly as before every time.",
            "",
            _row("flow", [x.backend for x in killed]),
            "|---|" + "---:|" * len(killed),
            *(
                _row(f"`{name}`", [dict(x.crashes)[name] for x in killed])
                for name, _count in killed[0].crashes
            ),
            "",
        ]
    out += [
        "### Concurrent calls (RL-3)",
        "",
        "The same on every backend: "
        + "; ".join(f"{x.backend} on {runner(x)}" for x in every)
        + ".",
        "",
        "| race | rule | calls | went through | refused |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {name} | {rule_} | {w} | {ok} | {no} |"
            for name, rule_, w, ok, no in _same_rows([x.races for x in every])
        ),
        "",
        "### Hostile input by expected refusal (RL-4)",
        "",
        "| refusal | cases on each backend |",
        "|---|---:|",
        *(f"| `{name}` | {n} |" for name, n in _same_rows([x.hostile for x in every])),
        f"| **total** | **{f.hostile_total}** |",
        "",
        "### Hostile input per call (RL-4)",
        "",
        "| call | cases on each backend |",
        "|---|---:|",
        *(f"| `{name}` | {n} |" for name, n in _same_rows([x.by_call for x in every])),
        "",
        "### Stateful models",
        "",
        _row("model", [f"{x.backend}: examples × steps" for x in every]),
        rule,
        *(_row(name, [_model(x, name) for x in every]) for name, _examples, _steps in f.models),
        "",
    ]
    return "\n".join(out)


def _model(figures: Figures, name: str) -> str:
    for model, examples, steps in figures.models:
        if model == name:
            return f"{examples} × up to {steps}"
    return "—"


# -- the command ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aftersales.testing.reliability.report",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument(
        "--backend",
        action="append",
        default=None,
        metavar="NAME",
        help="memory, sqlite, postgresql or another installed backend (repeatable; "
        "default: memory, sqlite and postgresql)",
    )
    parser.add_argument(
        "--count", action="store_true", help="count what the suite tries without running it"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    # Faults after a commit are logged by the library; the report only prints figures.
    logging.getLogger("aftersales").addHandler(logging.NullHandler())
    logging.getLogger("aftersales").propagate = False

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    names: list[str] = args.backend or list(BUILT_IN)
    with ExitStack() as stack:
        subjects = [_subject(name, stack) for name in names]
        figures = [measure(s, verify=not args.count, progress=progress) for s in subjects]
    sys.stdout.write(render(figures))
    return 0


def _subject(name: str, stack: ExitStack) -> Subject:
    if name == "memory":
        return memory_subject()
    if name == "sqlite":
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rl-sqlite-")))
        return sqlite_subject(directory)
    if name == "postgresql":
        from aftersales.testing.postgres import PostgresNotAvailable, start_postgres

        try:
            server = stack.enter_context(start_postgres())
        except PostgresNotAvailable as exc:
            raise SystemExit(
                f"cannot measure PostgreSQL: {exc}\n(measure the others with "
                "--backend memory --backend sqlite)"
            ) from exc
        return postgres_subject(server)
    return installed_subject(name)


if __name__ == "__main__":
    raise SystemExit(main())
