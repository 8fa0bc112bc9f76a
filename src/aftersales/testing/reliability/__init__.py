"""The reliability suite (RL-1 … RL-6), backend-neutral and shipped in the wheel.

* `flows` — every mutating call, ready to run;
* `checks` — faults at every hook call, replays and
  conflicting reuses of idempotency keys;
* `hostile` — hostile input for every parameter of
  every public call;
* `concurrency` — caps under concurrent callers,
  bounded retries;
* `models` — stateful models of coupons and repairs;
* [`contract`][aftersales.testing.reliability.contract] — all of it as pytest contract classes;
* `report` — the figures of `docs/reliability.md`.
"""

from aftersales.testing.reliability.flows import FLOWS, Flow
from aftersales.testing.reliability.setting import ReliabilityBackend, Setting
from aftersales.testing.witness import Witness

__all__ = ["FLOWS", "Flow", "ReliabilityBackend", "Setting", "Witness"]
