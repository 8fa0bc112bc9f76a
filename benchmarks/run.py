"""The benchmark run: every flow, the hook layer, scaling and worker processes, on every
available backend; a table on stdout and the same numbers as JSON.

Usage (from the repository root)::

    python -m benchmarks                  # full run, a few minutes
    python -m benchmarks --smoke          # tiny sizes, a few seconds (the test suite runs it)
    python -m benchmarks --backend memory --flow refund --json /tmp/refunds.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from . import floor
from .backends import BACKENDS, BackendEntry, Session, Unavailable
from .flows import FLOWS, REFUND_FLOWS, SCALING, Flow, World, bulk_load, make_world
from .harness import CALIBRATION, Measurement, Stats, Step, measure
from .parallel import run_workers

__all__ = ["FULL", "SMOKE", "TARGETS", "Settings", "for_backend", "main", "run"]

DEFAULT_JSON = Path("benchmarks/results/latest.json")


@attrs.frozen(kw_only=True)
class Settings:
    """How much to run."""

    warmup: int
    iterations: int
    block: int
    sizes: tuple[int, int]
    scaling_iterations: int
    workers: tuple[int, ...]
    per_worker: int
    parallel_flows: tuple[str, ...] = ("refund.full", "ticket.view")


FULL = Settings(
    warmup=300,
    iterations=3_000,
    block=20,
    sizes=(1_000, 100_000),
    scaling_iterations=2_000,
    workers=(1, 2, 4),
    per_worker=1_500,
)
SMOKE = Settings(
    warmup=2,
    iterations=5,
    block=2,
    sizes=(8, 40),
    scaling_iterations=5,
    workers=(1, 2),
    per_worker=6,
)


@attrs.frozen(kw_only=True)
class Target:
    """A goal on medians: ``what`` of ``backend`` must stay under ``limit``."""

    name: str
    backends: tuple[str, ...]
    limit: float
    unit: str


#: The performance targets the benchmark checks (medians, on the reference 2-core machine).
TARGETS: dict[str, Target] = {
    "refund_latency": Target(
        name="memory-backend refund flow under 100 µs", backends=("memory",), limit=100.0, unit="µs"
    ),
    "hook_layer": Target(
        name="hook layer under 1.25× a direct call", backends=(), limit=1.25, unit="×"
    ),
    "pluggy_layer": Target(
        name="hook layer within 1.15× plain pluggy", backends=(), limit=1.15, unit="×"
    ),
    "scaling": Target(
        name="100k-vs-1k ratio under 1.5 for every listed read", backends=(), limit=1.5, unit="×"
    ),
    "floor": Target(
        name="SQL backend within 2× of the raw-driver floor (FULL refund)",
        backends=("sqlite", "postgresql"),
        limit=2.0,
        unit="×",
    ),
}

#: Every part of a run, in order (``--skip`` leaves some out).
PARTS = ("flows", "floor", "scaling", "parallel")


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def _wanted(flows: Sequence[Flow], patterns: Sequence[str]) -> list[Flow]:
    if not patterns:
        return list(flows)
    return [f for f in flows if any(p in f.name for p in patterns)]


def _asdict(value: Stats) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in attrs.asdict(value).items()}


def _compared(
    measured: Measurement, top: str, bottom: str, *, ratio_key: str = "ratio"
) -> dict[str, Any]:
    """Both variants' figures, ``top ÷ bottom`` taken block by block (``ratio_key``) and of
    the medians, and the calibration measured in the same blocks."""
    return {
        top: _asdict(measured[top]),
        bottom: _asdict(measured[bottom]),
        ratio_key: round(measured.ratio(top, bottom), 3),
        "ratio_of_medians": round(measured[top].median_us / measured[bottom].median_us, 3),
        "calibration_us": round(measured[CALIBRATION].median_us, 3),
    }


def _step(flow: Flow, world: World, cases: Sequence[Any]) -> Step:
    def step(index: int) -> object:
        return flow.call(world, cases[index])

    return step


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the parts of a run -----------------------------------------------------------------------


def bench_flows(
    entry: BackendEntry,
    session: Session,
    settings: Settings,
    flows: Sequence[Flow],
    backend: Any = None,
) -> dict[str, Any]:
    """Each flow through the plugin manager and with the backend called directly.

    The flows run one after another in one world per variant (``backend``, when given, is
    the first one's): each flow's cases are its own records, so what earlier flows stored
    only makes the store bigger, which costs nothing a flow reads.
    """
    results: dict[str, Any] = {}
    total = settings.warmup + settings.iterations
    hooked = make_world(backend if backend is not None else entry.create(session))
    direct = make_world(entry.create(session), direct=True)
    plain = make_world(entry.create(session), plain=True)
    for flow in flows:
        _log(f"  {flow.name}")
        hooked_cases = flow.setup(hooked, total)
        direct_cases = flow.setup(direct, total)
        plain_cases = flow.setup(plain, total)
        measured = measure(
            {
                "hooks": _step(flow, hooked, hooked_cases),
                "direct": _step(flow, direct, direct_cases),
                "pluggy": _step(flow, plain, plain_cases),
            },
            warmup=settings.warmup,
            iterations=settings.iterations,
            block=settings.block,
        )
        results[flow.name] = {
            "description": flow.description,
            **_compared(measured, "hooks", "direct", ratio_key="hook_ratio"),
            "pluggy": _asdict(measured["pluggy"]),
            "pluggy_ratio": round(measured.ratio("hooks", "pluggy"), 3),
        }
    return results


def bench_scaling(
    entry: BackendEntry, session: Session, settings: Settings, flows: Sequence[Flow]
) -> dict[str, Any]:
    """The reads with ``sizes[0]`` vs ``sizes[1]`` invoices, deliveries and tickets stored."""
    small_size, large_size = settings.sizes
    worlds = {}
    load: dict[str, float] = {}
    for label, size in (("small", small_size), ("large", large_size)):
        _log(f"  loading {size:,} invoices, deliveries and tickets")
        world = make_world(entry.create(session))
        started = time.perf_counter()
        bulk_load(world, size)
        load[label] = round(time.perf_counter() - started, 2)
        worlds[label] = world
    results: dict[str, Any] = {"sizes": list(settings.sizes), "load_s": load, "reads": {}}
    total = settings.warmup + settings.scaling_iterations
    for flow in flows:
        _log(f"  {flow.name}")
        small, large = worlds["small"], worlds["large"]
        small_cases, large_cases = flow.setup(small, total), flow.setup(large, total)
        measured = measure(
            {
                "small": _step(flow, small, small_cases),
                "large": _step(flow, large, large_cases),
            },
            warmup=settings.warmup,
            iterations=settings.scaling_iterations,
            block=settings.block,
        )
        results["reads"][flow.name] = {
            "description": flow.description,
            **_compared(measured, "large", "small"),
        }
    return results


def bench_floor(entry: BackendEntry, session: Session, settings: Settings) -> dict[str, Any]:
    """A FULL refund through the SQL backend vs. its own statements replayed with the bare
    driver (see :mod:`benchmarks.floor`)."""
    world = make_world(entry.create(session))
    total = settings.warmup + settings.iterations
    (full,) = [flow for flow in FLOWS if flow.name == "refund.full"]
    cases = full.setup(world, total)
    folder = Path(session.stack.enter_context(tempfile.TemporaryDirectory(prefix="as-floor-")))
    server = session.shared.get("postgres")
    with floor.floor_worlds(world, server, folder) as (recording, replayer):
        _log("  recording a FULL refund's statements")
        recorded = floor.record(recording, cases)
        _log("  refund.full: backend vs. its statements replayed with the driver")
        measured = measure(
            {
                "backend": lambda index: floor.refund(world, cases[index]),
                "floor": lambda index: replayer.replay(recorded[index]),
            },
            warmup=settings.warmup,
            iterations=settings.iterations,
            block=settings.block,
        )
    return {
        "flow": "refund.full",
        **floor.summary(recorded),
        **_compared(measured, "backend", "floor"),
    }


def bench_parallel(
    entry: BackendEntry, session: Session, settings: Settings, flows: Sequence[Flow]
) -> dict[str, Any]:
    """Throughput of each flow with 1, 2, 4… worker processes."""
    results: dict[str, Any] = {}
    warm = max(settings.per_worker // 10, 1)
    share = warm + settings.per_worker
    for flow in flows:
        _log(f"  {flow.name} with {', '.join(map(str, settings.workers))} workers")
        world = make_world(entry.create(session))
        cases = flow.setup(world, share * sum(settings.workers))
        runs = []
        offset = 0
        for workers in settings.workers:
            mine = cases[offset : offset + share * workers]
            offset += share * workers
            run_ = run_workers(world, flow, mine, workers=workers, warmup=warm, reopen=entry.reopen)
            runs.append(attrs.asdict(run_))
        base = runs[0]["ops_per_s"]
        for item in runs:
            item["ops_per_s"] = round(item["ops_per_s"], 1)
            item["seconds"] = round(item["seconds"], 3)
            item["speedup"] = round(item["ops_per_s"] / base, 2)
        results[flow.name] = {"shared_store": entry.reopen is not None, "runs": runs}
    return results


def check_targets(backends: dict[str, Any], *, judged: bool = True) -> list[dict[str, Any]]:
    """Every target against the run's medians: value, limit, whether it holds, by how much.

    A smoke run's numbers (a few calls) say nothing: its checks are not judged (``ok`` is
    ``None``)."""
    checks: list[dict[str, Any]] = []

    def add(key: str, backend: str, subject: str, value: float, calibration: float) -> None:
        target = TARGETS[key]
        if target.backends and backend not in target.backends:
            return
        checks.append(
            {
                "target": key,
                "name": target.name,
                "backend": backend,
                "subject": subject,
                "value": round(value, 3),
                "limit": target.limit,
                "unit": target.unit,
                "ok": value < target.limit if judged else None,
                "over_by": f"{value / target.limit - 1:+.0%}",
                "calibration_us": calibration,
            }
        )

    for backend, result in backends.items():
        for name, flow in result.get("flows", {}).items():
            calibration = flow["calibration_us"]
            if name in REFUND_FLOWS:
                add("refund_latency", backend, name, flow["hooks"]["median_us"], calibration)
            add("hook_layer", backend, name, flow["hook_ratio"], calibration)
            if "pluggy_ratio" in flow:
                add("pluggy_layer", backend, name, flow["pluggy_ratio"], calibration)
        for name, read in result.get("scaling", {}).get("reads", {}).items():
            add("scaling", backend, name, read["ratio"], read["calibration_us"])
        found = result.get("floor")
        if found:
            add("floor", backend, found["flow"], found["ratio"], found["calibration_us"])
    return checks


# -- the report -------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def render(report: dict[str, Any]) -> str:
    """The report as text tables (what ``python -m benchmarks`` prints)."""
    parts = []
    m = report["machine"]
    parts.append(
        f"aftersales benchmarks ({report['mode']}) — {m['cpu']}, {m['nproc']} CPUs, "
        f"{m['implementation']} {m['python']}; {report['duration_s']:.0f} s; "
        f"load average {m['load_average']['start']} → {m['load_average']['end']}"
    )
    cal = report["calibration_us"]
    if cal:
        parts.append(
            f"calibration loop {cal['min']:.1f}–{cal['max']:.1f} µs over the run "
            f"(the machine's speed moved ×{cal['spread']:.2f}; see docs/performance.md)"
        )
    for name, result in report["backends"].items():
        if not result["available"]:
            parts.append(f"\n[{name}] skipped: {result['reason']}")
            continue
        if result.get("flows"):
            rows = [
                [
                    flow_name,
                    f"{r['hooks']['median_us']:.1f}",
                    f"{r['hooks']['p99_us']:.1f}",
                    f"{r['hooks']['ops_per_s']:,.0f}",
                    f"{r['direct']['median_us']:.1f}",
                    f"{r['hook_ratio']:.2f}",
                    f"{r['pluggy']['median_us']:.1f}",
                    f"{r['pluggy_ratio']:.2f}",
                    f"{r['calibration_us']:.1f}",
                ]
                for flow_name, r in result["flows"].items()
            ]
            parts.append(
                f"\n[{name}] flows — latency in µs (through the plugin manager), "
                "throughput for one caller, hook layer = hooks ÷ direct and hooks ÷ plain "
                "pluggy (block by block)\n"
                + _table(
                    [
                        *("flow", "median", "p99", "calls/s", "direct median", "hook layer"),
                        *("plain pluggy", "vs pluggy", "calib."),
                    ],
                    rows,
                )
            )
        found = result.get("floor")
        if found:
            parts.append(
                f"\n[{name}] floor — {found['flow']} through the backend vs. its "
                f"{found['statements_per_refund']:g} statements (and "
                f"{found['commits_per_refund']:g} commit) replayed with the bare driver, µs\n"
                + _table(
                    ["what", "median", "p99", "calls/s", "calib."],
                    [
                        [
                            label,
                            f"{found[key]['median_us']:.1f}",
                            f"{found[key]['p99_us']:.1f}",
                            f"{found[key]['ops_per_s']:,.0f}",
                            f"{found['calibration_us']:.1f}",
                        ]
                        for key, label in (("backend", "SQL backend"), ("floor", "bare driver"))
                    ],
                )
                + f"\nratio backend ÷ floor (block by block): {found['ratio']:.2f}"
            )
        if result.get("scaling_skipped"):
            parts.append(f"\n[{name}] scaling skipped: {result['scaling_skipped']}")
        scaling = result.get("scaling")
        if scaling:
            small, large = scaling["sizes"]
            rows = [
                [
                    read_name,
                    f"{r['small']['median_us']:.1f}",
                    f"{r['large']['median_us']:.1f}",
                    f"{r['ratio']:.2f}",
                    f"{r['calibration_us']:.1f}",
                ]
                for read_name, r in scaling["reads"].items()
            ]
            parts.append(
                f"\n[{name}] scaling — median µs with {small:,} vs {large:,} invoices, "
                f"deliveries and tickets stored (loaded in {scaling['load_s']['small']:g} s "
                f"and {scaling['load_s']['large']:g} s)\n"
                + _table(["read", f"{small:,}", f"{large:,}", "ratio", "calib."], rows)
            )
        parallel = result.get("parallel")
        if parallel:
            rows = [
                [
                    flow_name,
                    str(run_["workers"]),
                    f"{run_['ops_per_s']:,.0f}",
                    f"{run_['speedup']:.2f}",
                    "shared" if r["shared_store"] else "per process",
                ]
                for flow_name, r in parallel.items()
                for run_ in r["runs"]
            ]
            parts.append(
                f"\n[{name}] worker processes — calls/s over all workers\n"
                + _table(["flow", "workers", "calls/s", "speed-up", "store"], rows)
            )
    if report["targets"]:
        rows = [
            [
                f"{c['target']}  {c['backend']}: {c['subject']}",
                f"{c['value']:.1f} {c['unit']}" if c["unit"] == "µs" else f"{c['value']:.2f}×",
                f"< {c['limit']:g} µs" if c["unit"] == "µs" else f"< {c['limit']:g}×",
                "not judged (smoke)"
                if c["ok"] is None
                else "ok"
                if c["ok"]
                else f"MISSED ({c['over_by']})",
                f"{c['calibration_us']:.1f}",
            ]
            for c in report["targets"]
        ]
        parts.append(
            "\ntargets (medians; calib. = the calibration loop in the same blocks, µs)\n"
            + _table(["what", "median", "target", "result", "calib."], rows)
        )
    return "\n".join(parts)


# -- entry point ------------------------------------------------------------------------------


def for_backend(settings: Settings, entry: BackendEntry) -> Settings:
    """``settings`` with the numbers of calls shrunk by the entry's ``scale`` (never below
    five timed calls, or what the settings ask when they ask for fewer)."""
    if entry.scale == 1.0:
        return settings

    def scaled(count: int) -> int:
        return max(round(count * entry.scale), min(count, 5))

    return attrs.evolve(
        settings,
        warmup=scaled(settings.warmup),
        iterations=scaled(settings.iterations),
        block=scaled(settings.block),
        scaling_iterations=scaled(settings.scaling_iterations),
        per_worker=scaled(settings.per_worker),
    )


def run(
    settings: Settings,
    *,
    mode: str,
    backends: Sequence[str],
    flow_patterns: Sequence[str] = (),
    parts: frozenset[str] = frozenset(PARTS),
    sizes_given: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and return the report (see ``docs/performance.md``)."""
    started = time.perf_counter()
    load = _load()
    report: dict[str, Any] = {
        "version": 1,
        "mode": mode,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": attrs.asdict(settings),
        "backends": {},
    }
    flows = _wanted(FLOWS, flow_patterns)
    reads = _wanted(SCALING, flow_patterns)
    parallel = [f for f in flows if f.name in settings.parallel_flows]
    session = Session()
    try:
        for name in backends:
            entry = BACKENDS[name]
            mine = for_backend(settings, entry)
            result: dict[str, Any] = {
                "available": True,
                "description": entry.description,
                "iterations": mine.iterations,
            }
            report["backends"][name] = result
            try:
                first = entry.create(session)
            except Unavailable as exc:
                result.update(available=False, reason=str(exc))
                _log(f"[{name}] skipped: {exc}")
                continue
            _log(f"[{name}]")
            if "flows" in parts and flows:
                result["flows"] = bench_flows(entry, session, mine, flows, backend=first)
            if (
                "floor" in parts
                and floor.supported(first)
                and any(f.name == "refund.full" for f in flows)
            ):
                result["floor"] = bench_floor(entry, session, mine)
            if "scaling" in parts and reads:
                limit = entry.bulk_limit
                if limit is not None and mine.sizes[1] > limit and not sizes_given:
                    result["scaling_skipped"] = (
                        f"loading {mine.sizes[1]:,} records of each kind one by one through "
                        f"the builder takes too long on this backend (limit {limit:,}); "
                        "run with --sizes to ask for it"
                    )
                    _log(f"  scaling skipped: {result['scaling_skipped']}")
                else:
                    result["scaling"] = bench_scaling(entry, session, mine, reads)
            if "parallel" in parts and parallel:
                result["parallel"] = bench_parallel(entry, session, mine, parallel)
    finally:
        session.close()
    report["targets"] = check_targets(report["backends"], judged=mode != "smoke")
    report["calibration_us"] = _calibration_summary(report["backends"])
    report["machine"]["load_average"] = {"start": load, "end": _load()}
    report["duration_s"] = round(time.perf_counter() - started, 1)
    return report


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return []


def _calibration_summary(backends: dict[str, Any]) -> dict[str, float]:
    """The calibration loop's medians over the run: how much the machine's speed moved."""
    seen = [
        part["calibration_us"]
        for result in backends.values()
        for section in (result.get("flows", {}), result.get("scaling", {}).get("reads", {}))
        for part in section.values()
    ]
    if not seen:
        return {}
    return {"min": min(seen), "max": max(seen), "spread": round(max(seen) / min(seen), 2)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time every after-sales flow, the hook layer, scaling and worker "
        "processes on every available backend.",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes and a few iterations (seconds)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"where to write the report as JSON (default: {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=sorted(BACKENDS),
        help="run only this backend (repeatable; default: every backend)",
    )
    parser.add_argument(
        "--flow",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only flows and reads whose name contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=list(PARTS),
        help="leave a part out (repeatable)",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="records of each kind stored for the scaling part (default: 1000 100000)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        help="timed calls per flow and variant (default: 3000; smoke: 5)",
    )
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    if args.iterations:
        settings = attrs.evolve(
            settings,
            iterations=args.iterations,
            scaling_iterations=args.iterations,
            warmup=min(settings.warmup, args.iterations),
        )
    if args.sizes:
        settings = attrs.evolve(settings, sizes=tuple(args.sizes))
    report = run(
        settings,
        mode="smoke" if args.smoke else "full",
        backends=args.backend or list(BACKENDS),
        flow_patterns=args.flow,
        parts=frozenset(PARTS) - set(args.skip),
        sizes_given=bool(args.sizes),
    )
    print(render(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nJSON report: {args.json}")
    return 0
