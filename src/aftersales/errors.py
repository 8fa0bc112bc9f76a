"""The exceptions aftersales raises, in one tree.

Every exception derives from [`AfterSalesError`][aftersales.errors.AfterSalesError]. Three families
sit below it:

* [`DomainError`][aftersales.errors.DomainError] — the request was refused by a business rule;
  nothing changed.
* [`ConfigurationError`][aftersales.errors.ConfigurationError] — the application was assembled
  wrongly (missing backend or hook).
* [`BackendError`][aftersales.errors.BackendError] — a backend failed;
  [`BackendUnavailable`][aftersales.errors.BackendUnavailable] is worth retrying.

Messages name the record, the field and the value so that a person can act on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

__all__ = [
    "AccessDenied",
    "AfterSalesError",
    "BackendError",
    "BackendNotFound",
    "BackendUnavailable",
    "ConfigurationError",
    "ConflictError",
    "DatabaseLocked",
    "DomainError",
    "DuplicateKey",
    "IdempotencyConflict",
    "InvalidConfiguration",
    "InvalidCoupon",
    "InvalidInput",
    "InvalidOperation",
    "InvalidState",
    "MissingHookImplementation",
    "NotFound",
    "PortOwnershipError",
    "QuantityExceeded",
    "ServiceDisabled",
]


class AfterSalesError(Exception):
    """Base class of every exception raised by aftersales.

    Every one survives pickling with its message and attributes (`field`, `value`,
    `reason`…), so it can cross a process boundary: a process pool, a task queue.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own __reduce__ calls cls(*self.args), which breaks every subclass
        # whose constructor takes other arguments than the message.
        return (_revive, (type(self), self.args, dict(self.__dict__)))


def _revive(
    kind: type[AfterSalesError], args: tuple[Any, ...], state: dict[str, Any]
) -> AfterSalesError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


# --- domain errors: the call was refused and nothing changed -------------------------------


class DomainError(AfterSalesError):
    """A business rule refused the call. The store is left exactly as it was."""


class InvalidInput(DomainError, ValueError):
    """An argument is malformed, out of range or of the wrong type.

    `field` names the argument (or record field) and `value` is what was given.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={_show(value)}: {reason}")


class InvalidState(DomainError):
    """The record is not in a state that allows the action."""


class InvalidOperation(DomainError):
    """The action does not make sense for this ticket or record."""


class InvalidConfiguration(DomainError):
    """A team or catalogue setting makes the request impossible (e.g. no FSM project)."""


class QuantityExceeded(DomainError):
    """More was asked than is left (to refund, to return, to use)."""

    def __init__(self, what: str, asked: object, available: object) -> None:
        self.what = what
        self.asked = asked
        self.available = available
        super().__init__(f"{what}: asked {asked}, only {available} available")


class ServiceDisabled(DomainError):
    """The ticket's team does not have the after-sales service turned on."""

    def __init__(self, team: str, service: str) -> None:
        self.team = team
        self.service = service
        noun = service if service.endswith("service") else f"{service} service"
        super().__init__(
            f"the {noun} is not enabled on team {team!r}; "
            "a helpdesk manager can turn it on in the team's after-sales settings"
        )


class AccessDenied(DomainError):
    """The acting user lacks a group the action needs, or may not see the record."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"{action}: {reason}")


class NotFound(DomainError, LookupError):
    """No record of that kind has that id (or the acting user may not know it exists)."""

    def __init__(self, kind: str, id: object) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"{kind} {_show(id)} does not exist")


class DatabaseLocked(DomainError):
    """The trial ended without a paid subscription: the database is locked."""

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"the database is locked: its trial expired on {expired_at.isoformat()}; "
            "register a paid subscription to unlock it"
        )


class IdempotencyConflict(DomainError):
    """An idempotency key was reused with different arguments or for another operation."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} {reason}")


class InvalidCoupon(DomainError):
    """A coupon code cannot be redeemed; the message says why."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code!r}: {reason}")


# --- configuration errors: the application was assembled wrongly ---------------------------


class ConfigurationError(AfterSalesError):
    """The application cannot be built as configured."""


class BackendNotFound(ConfigurationError, LookupError):
    """No installed backend has that name."""

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        import difflib

        self.name = name
        self.installed = tuple(sorted(installed))
        close = difflib.get_close_matches(name, self.installed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(self.installed) or "none"
        super().__init__(f"no backend named {name!r} (installed: {listed}){hint}")


class MissingHookImplementation(ConfigurationError):
    """Hooks that the enabled services need have no implementation (RL-7)."""

    def __init__(self, missing: dict[str, tuple[str, ...]], plugins: Iterable[str] = ()) -> None:
        self.missing = dict(missing)
        self.plugins = tuple(plugins)
        lines = [
            f"  - {hook} (needed by: {', '.join(services)})"
            for hook, services in sorted(missing.items())
        ]
        expected = (
            f"none of the registered plugins ({', '.join(self.plugins)}) implements"
            if self.plugins
            else "no registered backend implements"
        )
        super().__init__(
            f"{expected} these hooks; add a backend that does, or build the application "
            "for fewer services (AfterSales(..., services=...)):\n" + "\n".join(lines)
        )


class PortOwnershipError(MissingHookImplementation):
    """Some port has no owner, two owners, or an owner that lacks hooks the enabled
    services need (RL-7). `problems` names each port and its owners; `missing` maps
    each hook without an implementation to the parts that need it."""

    def __init__(
        self,
        problems: Iterable[str],
        missing: dict[str, tuple[str, ...]],
        plugins: Iterable[str] = (),
    ) -> None:
        self.problems = tuple(problems)
        self.missing = dict(missing)
        self.plugins = tuple(plugins)
        registered = ", ".join(self.plugins) or "none"
        ConfigurationError.__init__(
            self,
            "every port needs exactly one owner implementing the hooks the enabled services "
            f"need (registered plugins: {registered}):\n" + "\n".join(self.problems),
        )


# --- backend errors: the store failed --------------------------------------------------------


class BackendError(AfterSalesError):
    """A backend failed while doing what was asked. The unit of work was rolled back."""


class BackendUnavailable(BackendError):
    """A transient failure (connection lost, database busy). Retrying may succeed."""


class ConflictError(BackendError):
    """Concurrent work conflicted and bounded retries ran out; try the call again later."""


class DuplicateKey(ConflictError):
    """A uniqueness constraint refused a write (a coupon code, a document reference)."""

    def __init__(self, what: str, value: object) -> None:
        self.what = what
        self.value = value
        super().__init__(f"{what} {_show(value)} already exists")


_SHOWN = 80


def _show(value: object) -> str:
    """`repr(value)` cut to 80 characters, for a message.

    A huge value is never converted whole: a long string is cut before its `repr` and an
    int of more than about 77 digits is shown by its first digits and its length (turning
    it into text is refused past 4,300 digits, and takes quadratic time before that).
    """
    if type(value) is int and value.bit_length() > 256:
        return _huge_int(value)
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"{value[:60]!r}… ({len(value):,} characters)"
    try:
        text = repr(value)
    except ValueError:  # e.g. a list holding an int too long to convert to text
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _huge_int(value: int) -> str:
    """`100000… (an int of about 5,001 digits)` for `10**5000`, from its logarithm."""
    magnitude = math.log10(abs(value))
    digits = int(magnitude) + 1
    first = int(10 ** (magnitude - int(magnitude) + 5))  # the first six digits
    sign = "-" if value < 0 else ""
    return f"{sign}{first}… (an int of about {digits:,} digits)"
