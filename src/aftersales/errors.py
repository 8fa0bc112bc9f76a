"""The exceptions aftersales raises, in one tree.

Every exception derives from [`AfterSalesError`][aftersales.errors.AfterSalesError]. Three families
sit below it:

* [`DomainError`][aftersales.errors.DomainError] — the request was refused by a business rule;
  nothing changed.
* [`ConfigurationError`][aftersales.errors.ConfigurationError] — the application was assembled
  wrongly (missing backend or hook).
* [`BackendError`][aftersales.errors.BackendError] — a backend failed;
  [`BackendUnavailable`][aftersales.errors.BackendUnavailable] is worth retrying.

Messages name the record, the field and the value so that a person can act on them; values
are written for people by [`show`][aftersales.formatting.show] (`-1`, `2020-01-01`,
`120.88 EUR`), never as Python reprs.

For an API every exception class has a stable machine `code` (`quantity_exceeded`), a
suggested `http_status`, the attributes a client needs (its `fields`) and
[`to_dict()`][aftersales.errors.AfterSalesError.to_dict], its JSON form. The codes are part of
the public API: once released a code never changes. The table of every class, code, status
and field is on the documentation's errors page.

Examples:
    >>> from decimal import Decimal
    >>> error = InvalidInput("quantity", Decimal("-1"), "must be positive")
    >>> str(error)
    'quantity=-1: must be positive'
    >>> error.code, error.http_status
    ('invalid_input', 422)
    >>> error.to_dict()["value"]
    '-1'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

from aftersales.formatting import show

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
    "ImportConflict",
    "InvalidConfiguration",
    "InvalidCoupon",
    "InvalidInput",
    "InvalidOperation",
    "InvalidState",
    "MethodNotAllowed",
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

    Attributes:
        code: The stable machine code of the class, in snake_case (`not_found`). It is part
            of the public API and never changes once released; a subclass has its own.
        http_status: The HTTP status an API answers with (`404`); a suggestion, the table
            in docs/errors.md says why each was chosen.
        fields: The names of the attributes a client needs, in the order
            [`to_dict()`][aftersales.errors.AfterSalesError.to_dict] lists them.
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    fields: ClassVar[tuple[str, ...]] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own __reduce__ calls cls(*self.args), which breaks every subclass
        # whose constructor takes other arguments than the message.
        return (_revive, (type(self), self.args, dict(self.__dict__)))

    @property
    def message(self) -> str:
        """The message for people, the text of `str(error)`."""
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: `code`, `message`, `status` and its `fields`.

        Decimals become strings (`"-1"`), Money `{"amount": "12.50", "currency": "EUR"}`
        (the library's one converter, `aftersales.serialization.converter`), dates and
        datetimes ISO 8601 text, enum members their value, tuples and sets lists. A value
        that JSON cannot hold (an arbitrary object given as input) or that is huge (a string
        of a million characters, an int of thousands of digits) is given as the text its
        message shows.

        Returns:
            A dict that `json.dumps` accepts as it is.
        """
        data: dict[str, Any] = {"code": self.code, "message": str(self), "status": self.http_status}
        for name in self.fields:
            data[name] = _json(getattr(self, name, None))
        return data


def _revive(
    kind: type[AfterSalesError], args: tuple[Any, ...], state: dict[str, Any]
) -> AfterSalesError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


def _json(value: object, depth: int = 0) -> Any:
    """`value` as JSON data, or the text `show()` gives for what JSON cannot hold."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _json(value.value, depth)
    if isinstance(value, int):
        return int(value) if int(value).bit_length() <= 53 else show(value)
    if isinstance(value, str):
        return value if len(value) <= 200 else show(value)
    if isinstance(value, Decimal):
        small = len(value.as_tuple().digits) <= 40 and abs(value.adjusted()) <= 30
        return f"{value:f}" if value.is_finite() and small else show(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    import attrs

    if attrs.has(type(value)):
        from aftersales.serialization import converter

        try:
            return converter.unstructure(value)
        except Exception:  # pragma: no cover - a record the converter cannot write
            return show(value)
    if depth < 2 and isinstance(value, Mapping) and len(value) <= 100:
        return {
            show(k) if not isinstance(k, str) else k: _json(v, depth + 1) for k, v in value.items()
        }
    if depth < 2 and isinstance(value, list | tuple | set | frozenset) and len(value) <= 100:
        items = [_json(item, depth + 1) for item in value]
        if isinstance(value, set | frozenset):
            items.sort(key=str)
        return items
    return show(value)


# --- domain errors: the call was refused and nothing changed -------------------------------


class DomainError(AfterSalesError):
    """A business rule refused the call. The store is left exactly as it was."""

    code = "domain_error"
    http_status = 422


class InvalidInput(DomainError, ValueError):
    """An argument is malformed, out of range or of the wrong type.

    `field` names the argument (or record field) and `value` is what was given.
    """

    code = "invalid_input"
    http_status = 422
    fields = ("field", "value", "reason")

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={show(value)}: {reason}")


class InvalidState(DomainError):
    """The record is not in a state that allows the action.

    `kind` and `id` name the record when the raiser knows it (`"repair order"`, its id).
    """

    code = "invalid_state"
    http_status = 409
    fields = ("kind", "id")

    def __init__(self, message: str, *, kind: str | None = None, id: str | None = None) -> None:
        self.kind = kind
        self.id = id
        super().__init__(message)


class InvalidOperation(DomainError):
    """The action does not make sense for this ticket or record.

    `kind` and `id` name the record when the raiser knows it.
    """

    code = "invalid_operation"
    http_status = 422
    fields: ClassVar[tuple[str, ...]] = ("kind", "id")

    def __init__(self, message: str, *, kind: str | None = None, id: str | None = None) -> None:
        self.kind = kind
        self.id = id
        super().__init__(message)


class MethodNotAllowed(InvalidOperation):
    """The method asked for (a credit method) is not allowed for this record.

    `method` is what was asked and `allowed` the methods that are, so a client can offer
    them. An [`InvalidOperation`][aftersales.errors.InvalidOperation], so code that catches
    that still does.
    """

    code = "method_not_allowed"
    http_status = 422
    fields = ("method", "allowed", "kind", "id")

    def __init__(
        self,
        message: str,
        *,
        method: str,
        allowed: Iterable[str],
        kind: str | None = None,
        id: str | None = None,
    ) -> None:
        self.method = method
        self.allowed = tuple(allowed)
        super().__init__(message, kind=kind, id=id)


class InvalidConfiguration(DomainError):
    """A team or catalogue setting makes the request impossible (e.g. no FSM project)."""

    code = "invalid_configuration"
    http_status = 409


class QuantityExceeded(DomainError):
    """More was asked than is left (to refund, to return, to use).

    `asked` and `available` always carry their unit and `kind` says which: `"amount"` for
    [`Money`][aftersales.models.money.Money] (a refund), `"quantity"` for a
    `aftersales.models.Quantity` with its unit of measure (a return).
    """

    code = "quantity_exceeded"
    http_status = 422
    fields = ("what", "kind", "asked", "available")

    def __init__(self, what: str, asked: object, available: object) -> None:
        from aftersales.models.money import Money

        self.what = what
        self.asked = asked
        self.available = available
        self.kind = "amount" if isinstance(asked, Money) else "quantity"
        super().__init__(f"{what}: asked {show(asked)}, only {show(available)} available")


class ServiceDisabled(DomainError):
    """The ticket's team does not have the after-sales service turned on."""

    code = "service_disabled"
    http_status = 409
    fields = ("team", "service")

    def __init__(self, team: str, service: str) -> None:
        self.team = team
        self.service = service
        noun = service if service.endswith("service") else f"{service} service"
        super().__init__(
            f"the {noun} is not enabled on team {show(team)}; "
            "a helpdesk manager can turn it on in the team's after-sales settings"
        )


class AccessDenied(DomainError):
    """The acting user lacks a group the action needs, or may not see the record.

    `kind` and `id` name the record when the refusal is about one.
    """

    code = "access_denied"
    http_status = 403
    fields = ("action", "reason", "kind", "id")

    def __init__(
        self, action: str, reason: str, *, kind: str | None = None, id: str | None = None
    ) -> None:
        self.action = action
        self.reason = reason
        self.kind = kind
        self.id = id
        super().__init__(f"{action}: {reason}")


class NotFound(DomainError, LookupError):
    """No record of that kind has that id (or the acting user may not know it exists)."""

    code = "not_found"
    http_status = 404
    fields = ("kind", "id")

    def __init__(self, kind: str, id: object) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"{kind} {show(id)} does not exist")


class DatabaseLocked(DomainError):
    """The trial ended without a paid subscription: the database is locked."""

    code = "database_locked"
    http_status = 423
    fields = ("expired_at",)

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"the database is locked: its trial expired on {show(expired_at)}; "
            "register a paid subscription to unlock it"
        )


class IdempotencyConflict(DomainError):
    """An idempotency key was reused with different arguments or for another operation."""

    code = "idempotency_conflict"
    http_status = 422
    fields = ("key", "reason")

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"idempotency key {show(key)} {reason}")


class ImportConflict(DomainError):
    """A record was imported under an external id that a document with other content
    already holds.

    `kind` is what was imported (`"invoice"`), `external_id` the host's id and
    `differing` the fields of the record that the stored document does not hold.
    """

    code = "import_conflict"
    http_status = 409
    fields = ("kind", "external_id", "differing")

    def __init__(self, kind: str, external_id: str, differing: Iterable[str]) -> None:
        self.kind = kind
        self.external_id = external_id
        self.differing = tuple(differing)
        super().__init__(
            f"{kind} {show(external_id)} was imported before with other "
            f"{', '.join(self.differing)}; an import never changes a stored document: "
            "import the record as it was, or under a new external id"
        )


class InvalidCoupon(DomainError):
    """A coupon code cannot be redeemed; the message says why.

    `coupon_code` is the code given (the attribute `code` is the error's machine code).
    """

    code = "invalid_coupon"
    http_status = 422
    fields = ("coupon_code", "reason")

    def __init__(self, code: str, reason: str) -> None:
        self.coupon_code = code
        self.reason = reason
        super().__init__(f"{show(code)}: {reason}")


# --- configuration errors: the application was assembled wrongly ---------------------------


class ConfigurationError(AfterSalesError):
    """The application cannot be built as configured."""

    code = "configuration_error"
    http_status = 500


class BackendNotFound(ConfigurationError, LookupError):
    """No installed backend has that name."""

    code = "backend_not_found"
    http_status = 500
    fields = ("name", "installed")

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        import difflib

        self.name = name
        self.installed = tuple(sorted(installed))
        close = difflib.get_close_matches(name, self.installed, n=1)
        hint = f"; did you mean {show(close[0])}?" if close else ""
        listed = ", ".join(self.installed) or "none"
        super().__init__(f"no backend named {show(name)} (installed: {listed}){hint}")


class MissingHookImplementation(ConfigurationError):
    """Hooks that the enabled services need have no implementation (RL-7)."""

    code = "missing_hook_implementation"
    http_status = 500
    fields: ClassVar[tuple[str, ...]] = ("missing", "plugins")

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

    code = "port_ownership"
    fields = ("problems", "missing", "plugins")

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

    code = "backend_error"
    http_status = 500


class BackendUnavailable(BackendError):
    """A transient failure (connection lost, database busy). Retrying may succeed."""

    code = "backend_unavailable"
    http_status = 503


class ConflictError(BackendError):
    """Concurrent work conflicted and bounded retries ran out; try the call again later."""

    code = "conflict"
    http_status = 409


class DuplicateKey(ConflictError):
    """A uniqueness constraint refused a write (a coupon code, a document reference)."""

    code = "duplicate_key"
    http_status = 409
    fields = ("what", "value")

    def __init__(self, what: str, value: object) -> None:
        self.what = what
        self.value = value
        super().__init__(f"{what} {show(value)} already exists")
