"""The reliability suite (RL-1 … RL-6), backend-neutral and shipped in the wheel.

* :mod:`~aftersales.testing.reliability.flows` — every mutating call, ready to run;
* :mod:`~aftersales.testing.reliability.checks` — faults at every hook call, replays and
  conflicting reuses of idempotency keys;
* :mod:`~aftersales.testing.reliability.hostile` — hostile input for every parameter of
  every public call;
* :mod:`~aftersales.testing.reliability.concurrency` — caps under concurrent callers,
  bounded retries;
* :mod:`~aftersales.testing.reliability.models` — stateful models of coupons and repairs;
* :mod:`~aftersales.testing.reliability.contract` — all of it as pytest contract classes;
* :mod:`~aftersales.testing.reliability.report` — the figures of ``docs/reliability.md``.
"""

from aftersales.testing.reliability.flows import FLOWS, Flow
from aftersales.testing.reliability.setting import ReliabilityBackend, Setting
from aftersales.testing.witness import Witness

__all__ = ["FLOWS", "Flow", "ReliabilityBackend", "Setting", "Witness"]
