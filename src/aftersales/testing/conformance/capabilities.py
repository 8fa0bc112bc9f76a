"""Optional capabilities a backend may declare, and the tests that need them skip without.

A backend declares them as a `capabilities` attribute (a frozenset of strings):

```python
class MyBackend:
    capabilities = frozenset({"threads", "delivered_log"})
```
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Capability", "capabilities_of"]


class Capability(StrEnum):
    """Optional behaviour; the value is what a backend lists in `capabilities`."""

    #: `aftersales_mail_deliver` keeps what it accepted in `backend.delivered`.
    DELIVERED_LOG = "delivered_log"
    #: Units of work may run on several threads of one process at once, isolated from
    #: each other, and `lock=True` holds the record until the unit ends.
    THREADS = "threads"
    #: Several processes may share the store at once (cross-process tests).
    MULTI_PROCESS = "multi_process"
    #: The data survives closing and reopening the backend.
    PERSISTENT = "persistent"

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING = {
    Capability.DELIVERED_LOG: "emails it delivers are listed in backend.delivered",
    Capability.THREADS: "concurrent units of work on several threads",
    Capability.MULTI_PROCESS: "several processes sharing one store",
    Capability.PERSISTENT: "data survives a restart",
}


def capabilities_of(backend: object) -> frozenset[str]:
    """The capabilities `backend` declares (none when it has no `capabilities`)."""
    declared: object = getattr(backend, "capabilities", frozenset())
    if not isinstance(declared, set | frozenset | tuple | list):
        raise TypeError(f"{type(backend).__name__}.capabilities must be a set of names")
    return frozenset(str(c) for c in declared)
