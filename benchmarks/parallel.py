"""Throughput with several worker processes calling the library at once.

The parent builds the world and every case, then forks the workers (Linux ``fork``). Each
worker runs a few untimed calls, waits at a barrier with the others, runs its share of the
cases back to back and reports when it started and ended. Throughput is every call made
divided by the time from the first start to the last end.

With a backend entry that has ``reopen`` (the SQL backends), each worker opens its own
connections to the one shared database, so the number includes the database's own
contention (row locks, WAL). Without it (the memory backend) each worker has its own copy
of the store: the number is how the library's CPU work scales over processes.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import attrs

from .flows import Flow, World, reattach

__all__ = ["ParallelRun", "run_workers"]


@attrs.frozen(kw_only=True)
class ParallelRun:
    """One throughput measurement with ``workers`` processes."""

    workers: int
    calls: int
    seconds: float
    ops_per_s: float


def _worker(
    world: World,
    reopen: Callable[[Any], Any] | None,
    flow: Flow,
    warm: Sequence[Any],
    cases: Sequence[Any],
    barrier: Any,
    out: Connection,
) -> None:
    try:
        if reopen is not None:
            world = reattach(world, reopen(world.backend))
        for case in warm:
            flow.call(world, case)
        barrier.wait()
        start = time.monotonic_ns()
        for case in cases:
            flow.call(world, case)
        end = time.monotonic_ns()
        out.send(("ok", start, end, len(cases)))
    except BaseException:
        barrier.abort()
        out.send(("error", traceback.format_exc()))
    finally:
        out.close()


def run_workers(
    world: World,
    flow: Flow,
    cases: Sequence[Any],
    *,
    workers: int,
    warmup: int,
    reopen: Callable[[Any], Any] | None,
    timeout: float = 600.0,
) -> ParallelRun:
    """Run ``cases`` split over ``workers`` forked processes (each first runs ``warmup``
    of its cases untimed); ``len(cases)`` must be a multiple of ``workers``."""
    context = multiprocessing.get_context("fork")
    share = len(cases) // workers
    if share <= warmup:
        raise ValueError(f"{len(cases)} cases are too few for {workers} workers")
    barrier = context.Barrier(workers)
    processes = []
    # What exists now (the world, earlier garbage) is frozen before forking: a worker's
    # collector then never walks the inherited heap, which would both pause it and copy
    # every page it touches (copy-on-write).
    gc.collect()
    gc.freeze()
    for index in range(workers):
        mine = cases[index * share : (index + 1) * share]
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker,
            args=(world, reopen, flow, mine[:warmup], mine[warmup:], barrier, send),
            daemon=True,
        )
        process.start()
        send.close()
        processes.append((process, receive))
    reports = []
    for process, receive in processes:
        if not receive.poll(timeout):
            process.kill()
            raise TimeoutError(f"a worker of {flow.name} did not finish in {timeout} s")
        reports.append(receive.recv())
        process.join()
    gc.unfreeze()
    errors = [report[1] for report in reports if report[0] == "error"]
    if errors:
        raise RuntimeError(f"a worker of {flow.name} failed:\n{errors[0]}")
    start = min(report[1] for report in reports)
    end = max(report[2] for report in reports)
    calls = sum(report[3] for report in reports)
    seconds = (end - start) / 1e9
    return ParallelRun(workers=workers, calls=calls, seconds=seconds, ops_per_s=calls / seconds)
