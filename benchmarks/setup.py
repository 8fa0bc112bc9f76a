"""What a test of a suite on the memory backend costs to set up.

Per test, in one run, alternating blocks, medians:

* **fresh**: what the fixtures did before: a new `MemoryBackend`, a new `AfterSales`,
  the standard world (`build_scenario()`), then one FULL refund;
* **pattern**: the documented pattern (docs/testing.md, the pytest plugin's fixtures): one
  application for the session; per test the clock is set back, the backend is reset to the
  standard world's snapshot, then one FULL refund;
* **pattern, world built**: the same with the world built per test (`reset()`, then
  `build_scenario()`), for a suite whose world is its own;
* **refund**: the FULL refund alone (an invoice stored and reversed), on the standard
  world reloaded before each call outside the timing (so every case refunds on the same
  small world, never on a customer history that grows with the run).

Run it with ``python -m benchmarks.setup`` (``--smoke`` for a few rounds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.testing.scenario import Scenario, build_scenario

__all__ = ["CASES", "main", "measure"]

START = "2026-11-28T09:00:00+00:00"


def _refund(app: AfterSales, backend: MemoryBackend, clock: FrozenClock, sc: Scenario) -> None:
    invoice = backend.builder(clock).invoice(customer=sc.customer, lines=[(sc.blender, 2)])
    app.refunds.reverse(sc.ticket.id, invoice.id, method=CreditMethod.FULL, actor=sc.actors.agent)


def _fresh() -> Callable[[], None]:
    def test() -> None:
        clock = FrozenClock(START)
        backend = MemoryBackend()
        app = AfterSales(backend, clock=clock)
        _refund(app, backend, clock, build_scenario(backend.builder(clock)))

    return test


def _pattern() -> Callable[[], None]:
    clock = FrozenClock(START)
    backend = MemoryBackend()
    app = AfterSales(backend, clock=clock)
    scenario = build_scenario(backend.builder(clock))
    world, now = backend.snapshot(), clock.now()

    def test() -> None:
        clock.set(now)
        backend.reset(world)
        _refund(app, backend, clock, scenario)

    return test


def _pattern_built() -> Callable[[], None]:
    clock = FrozenClock(START)
    backend = MemoryBackend()
    app = AfterSales(backend, clock=clock)

    def test() -> None:
        clock.set(START)
        backend.reset()
        _refund(app, backend, clock, build_scenario(backend.builder(clock)))

    return test


def _refund_alone() -> Callable[[], float]:
    clock = FrozenClock(START)
    backend = MemoryBackend()
    app = AfterSales(backend, clock=clock)
    scenario = build_scenario(backend.builder(clock))
    world, now = backend.snapshot(), clock.now()

    def test() -> float:
        clock.set(now)
        backend.reset(world)
        start = time.perf_counter()
        _refund(app, backend, clock, scenario)
        return time.perf_counter() - start

    return test


def _timed(make: Callable[[], Callable[[], None]]) -> Callable[[], Callable[[], float]]:
    def timed() -> Callable[[], float]:
        test = make()

        def run() -> float:
            start = time.perf_counter()
            test()
            return time.perf_counter() - start

        return run

    return timed


#: Each case makes a test; a test runs once and returns the seconds that count.
CASES: dict[str, Callable[[], Callable[[], float]]] = {
    "fresh": _timed(_fresh),
    "pattern": _timed(_pattern),
    "pattern, world built": _timed(_pattern_built),
    "refund": _refund_alone,
}


def measure(rounds: int, block: int) -> dict[str, float]:
    """Median µs per test of each case, blocks of `block` calls alternating `rounds` times."""
    tests = {name: make() for name, make in CASES.items()}
    samples: dict[str, list[float]] = {name: [] for name in tests}
    for test in tests.values():  # warm-up
        for _ in range(block):
            test()
    for _ in range(rounds):
        for name, test in tests.items():
            spent = sum(test() for _ in range(block))
            samples[name].append(spent / block * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.setup", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few rounds only")
    args = parser.parse_args(argv)
    rounds, block = (2, 2) if args.smoke else (40, 25)
    results = measure(rounds, block)
    refund = results["refund"]
    print(f"{'per test':<22}{'µs':>10}{'× refund':>10}")
    for name, micros in results.items():
        print(f"{name:<22}{micros:>10.0f}{micros / refund:>10.1f}")
    pattern = results["pattern"]
    held = pattern <= 300 and pattern <= 5 * refund
    print(f"targets (pattern ≤ 300 µs and ≤ 5× refund): {'held' if held else 'missed'}")
    print(f"fresh / pattern: {results['fresh'] / pattern:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
