"""Benchmarks of aftersales: latency and throughput of every after-sales flow, the cost of
the hook layer, how reads scale with the store, and throughput with worker processes.

Run ``python -m benchmarks`` from the repository root (``--smoke`` for a quick check); the
numbers and how to read them are in ``docs/performance.md``.
"""
