"""The reliability suite (RL-1 … RL-6), backend-neutral; the project's own test tooling, not
installed with the package.

* :mod:`~tests.reliability.flows` — every mutating call, ready to run;
* :mod:`~tests.reliability.checks` — faults at every hook call, replays and
  conflicting reuses of idempotency keys;
* :mod:`~tests.reliability.hostile` — hostile input for every parameter of
  every public call;
* :mod:`~tests.reliability.concurrency` — caps under concurrent callers,
  bounded retries;
* :mod:`~tests.reliability.models` — stateful models of coupons and repairs;
* :mod:`~tests.reliability.contract` — all of it as pytest contract classes;
* :mod:`~tests.reliability.report` — the figures of ``docs/reliability.md``.
"""

from aftersales.testing.witness import Witness
from tests.reliability.flows import FLOWS, Flow
from tests.reliability.setting import ReliabilityBackend, Setting

__all__ = ["FLOWS", "Flow", "ReliabilityBackend", "Setting", "Witness"]
