"""``python -m benchmarks``: see :mod:`benchmarks.run` and ``docs/performance.md``."""

from .run import main

raise SystemExit(main())
