"""Timing: warm-up, interleaved blocks, median, p99 and throughput.

Every measurement compares *variants* of one step (through the plugin manager vs. direct,
1,000 vs. 100,000 records stored). The variants run in alternating blocks, and their ratio
is taken block by block, so drift of a shared machine (another process waking up,
frequency scaling) hits both sides of every ratio alike.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal

import attrs

__all__ = [
    "CALIBRATION",
    "Measurement",
    "Stats",
    "Step",
    "calibration",
    "measure",
    "quiet_gc",
    "stats",
]

#: One timed iteration; it receives the iteration's index (warm-up included).
Step = Callable[[int], object]


@attrs.frozen(kw_only=True)
class Stats:
    """What one variant measured: latencies in microseconds, throughput in calls per second.

    ``ops_per_s`` is ``iterations / (sum of the timed calls)``: one caller, back to back.
    """

    iterations: int
    median_us: float
    p99_us: float
    mean_us: float
    min_us: float
    ops_per_s: float


def stats(samples_ns: Sequence[int]) -> Stats:
    """Summarise per-call durations in nanoseconds (p99 by nearest rank).

    >>> s = stats([1_000 * n for n in range(1, 101)])
    >>> s.median_us, s.p99_us, s.min_us, round(s.ops_per_s)
    (50.5, 99.0, 1.0, 19802)
    """
    if not samples_ns:
        raise ValueError("no samples")
    ordered = sorted(samples_ns)
    rank = max(math.ceil(0.99 * len(ordered)), 1)
    total = sum(ordered)
    return Stats(
        iterations=len(ordered),
        median_us=statistics.median(ordered) / 1_000,
        p99_us=ordered[rank - 1] / 1_000,
        mean_us=total / len(ordered) / 1_000,
        min_us=ordered[0] / 1_000,
        ops_per_s=len(ordered) * 1e9 / total if total else math.inf,
    )


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Collect, then freeze what exists (the stored world) out of the collector's sight.

    The collector stays on, so garbage made by the calls is collected as in production;
    only the set-up data, which a long-running process would hold in an old generation
    anyway, is not re-scanned on every full collection.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Point:
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


_PRICE = Decimal("19.99")
_CENT = Decimal("0.01")


def calibration(_index: int = 0) -> object:
    """A fixed piece of pure-Python work with the library's mix (calls, small objects,
    dicts, f-strings, Decimal arithmetic), independent of the library's code: its time
    shows how fast the machine runs at that moment."""
    table: dict[str, _Point] = {}
    total = Decimal(0)
    for i in range(40):
        table[f"row-{i}"] = _Point(i, i + 1)
        total = (total + _PRICE).quantize(_CENT)
    return sum(p.x * p.y for p in table.values()), total


#: The name of the calibration variant :func:`measure` adds to every measurement.
CALIBRATION = "calibration"


@attrs.frozen
class Measurement:
    """What :func:`measure` took: each variant's :class:`Stats`, and the median of each of
    its blocks (µs), block ``i`` of every variant having run one right after the other."""

    stats: dict[str, Stats]
    blocks: dict[str, list[float]]

    def __getitem__(self, name: str) -> Stats:
        return self.stats[name]

    def ratio(self, top: str, bottom: str) -> float:
        """How many times slower ``top`` is than ``bottom``: the median, over blocks, of the
        ratio of their block medians. Adjacent blocks ran under the same conditions, so a
        change in the machine's speed during the run cancels out.

        >>> m = Measurement(stats={}, blocks={"a": [2.0, 4.0, 3.0], "b": [1.0, 4.0, 2.0]})
        >>> m.ratio("a", "b")
        1.5
        """
        pairs = zip(self.blocks[top], self.blocks[bottom], strict=True)
        return statistics.median(t / b for t, b in pairs)


def measure(
    variants: Mapping[str, Step], *, warmup: int, iterations: int, block: int = 20
) -> Measurement:
    """Time every variant ``iterations`` times after ``warmup`` untimed calls.

    Variants alternate in blocks of ``block`` calls, together with :func:`calibration`
    (reported under :data:`CALIBRATION`). Each variant's step is called with indexes
    ``0 … warmup + iterations - 1``, in order, so a step can use one prepared case per call.
    """
    clock = time.perf_counter_ns
    variants = {**variants, CALIBRATION: calibration}
    samples: dict[str, list[int]] = {name: [] for name in variants}
    blocks: dict[str, list[float]] = {name: [] for name in variants}
    for step in variants.values():
        for index in range(warmup):
            step(index)
    with quiet_gc():
        done = 0
        while done < iterations:
            size = min(block, iterations - done)
            for name, step in variants.items():
                out = samples[name]
                for index in range(warmup + done, warmup + done + size):
                    start = clock()
                    step(index)
                    out.append(clock() - start)
                blocks[name].append(statistics.median(out[-size:]) / 1_000)
            done += size
    return Measurement(
        stats={name: stats(values) for name, values in samples.items()}, blocks=blocks
    )
