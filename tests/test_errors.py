"""Errors made for an API: codes, statuses, fields, `to_dict()` and messages for people."""

from __future__ import annotations

import inspect
import json
import pickle
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import aftersales.errors as errors_module
from aftersales.errors import (
    AccessDenied,
    AfterSalesError,
    BackendNotFound,
    DatabaseLocked,
    DuplicateKey,
    IdempotencyConflict,
    InvalidCoupon,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    MethodNotAllowed,
    MissingHookImplementation,
    NotFound,
    PortOwnershipError,
    QuantityExceeded,
    ServiceDisabled,
)
from aftersales.formatting import show
from aftersales.models import CreditMethod, Money, Quantity
from tests.reliability.hostile import repr_in

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

CLASSES: list[type[AfterSalesError]] = [
    obj
    for name in errors_module.__all__
    if isinstance(obj := getattr(errors_module, name), type) and issubclass(obj, AfterSalesError)
]

#: One instance of every class, with values of every kind a field can hold.
EXAMPLES: dict[type[AfterSalesError], AfterSalesError] = {
    errors_module.AfterSalesError: errors_module.AfterSalesError("it failed"),
    errors_module.DomainError: errors_module.DomainError("refused"),
    InvalidInput: InvalidInput("quantity", Decimal("-1"), "must be positive"),
    InvalidState: InvalidState("posted", kind="invoice", id="inv-1"),
    InvalidOperation: InvalidOperation("not for this ticket"),
    MethodNotAllowed: MethodNotAllowed(
        "only partial", method="full", allowed=["partial"], kind="invoice", id="inv-1"
    ),
    errors_module.InvalidConfiguration: errors_module.InvalidConfiguration("no project"),
    QuantityExceeded: QuantityExceeded("credit", Money.of(3, "EUR"), Money.of("2.5", "EUR")),
    ServiceDisabled: ServiceDisabled("Support", "returns"),
    AccessDenied: AccessDenied("refund", "not in group", kind="ticket", id="ticket-1"),
    NotFound: NotFound("invoice", "inv-nope"),
    DatabaseLocked: DatabaseLocked(datetime(2026, 1, 31, 12, tzinfo=UTC)),
    IdempotencyConflict: IdempotencyConflict("k-1", "was used with different arguments"),
    InvalidCoupon: InvalidCoupon("SUMMER-10", "this code has expired"),
    errors_module.ImportConflict: errors_module.ImportConflict(
        "invoice", "host-inv-7", ["lines", "number"]
    ),
    errors_module.ConfigurationError: errors_module.ConfigurationError("bad"),
    BackendNotFound: BackendNotFound("memroy", ["memory", "sql"]),
    MissingHookImplementation: MissingHookImplementation({"get_invoice": ("refunds",)}, ["x"]),
    PortOwnershipError: PortOwnershipError(
        ["port helpdesk has two owners: a, b"], {"get_invoice": ("refunds",)}, ["a", "b"]
    ),
    errors_module.BackendError: errors_module.BackendError("failed"),
    errors_module.BackendUnavailable: errors_module.BackendUnavailable("busy"),
    errors_module.ConflictError: errors_module.ConflictError("retries ran out"),
    DuplicateKey: DuplicateKey("coupon code", "SUMMER-10"),
}


def _table() -> dict[str, dict[str, Any]]:
    """The rows of the table in docs/errors.md, by class name."""
    rows: dict[str, dict[str, Any]] = {}
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index("| Class | Code | HTTP status | When | Fields |")
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name, code, status, _when, fields = cells
        rows[name.strip("`")] = {
            "code": code.strip("`"),
            "status": int(status),
            "fields": tuple(re.findall(r"`(\w+)`", fields)),
        }
    return rows


def test_every_exception_class_is_in_the_example_set() -> None:
    assert set(EXAMPLES) == set(CLASSES)


def test_the_table_in_the_docs_matches_the_classes() -> None:
    table = _table()
    assert sorted(table) == sorted(cls.__name__ for cls in CLASSES)
    for cls in CLASSES:
        row = table[cls.__name__]
        documented = (row["code"], row["status"], row["fields"])
        assert documented == (cls.code, cls.http_status, cls.fields), cls.__name__


def test_codes_are_unique_snake_case_and_statuses_are_http_errors() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes))
    for cls in CLASSES:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls
        assert 400 <= cls.http_status <= 599, cls
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"


@pytest.mark.parametrize("error", EXAMPLES.values(), ids=lambda e: type(e).__name__)
def test_to_dict_is_json_and_survives_pickling(error: AfterSalesError) -> None:
    data = error.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["code"] == type(error).code
    assert data["status"] == type(error).http_status
    assert data["message"] == str(error)
    assert list(data)[3:] == list(type(error).fields)
    revived = pickle.loads(pickle.dumps(error))
    assert type(revived) is type(error)
    assert revived.to_dict() == data
    assert repr_in(str(error)) is None


def test_fields_are_json_values_a_client_can_use() -> None:
    assert EXAMPLES[InvalidInput].to_dict()["value"] == "-1"
    assert EXAMPLES[QuantityExceeded].to_dict() == {
        "code": "quantity_exceeded",
        "message": "credit: asked 3.00 EUR, only 2.50 EUR available",
        "status": 422,
        "what": "credit",
        "kind": "amount",
        "asked": {"amount": "3.00", "currency": "EUR"},
        "available": {"amount": "2.50", "currency": "EUR"},
    }
    assert EXAMPLES[DatabaseLocked].to_dict()["expired_at"] == "2026-01-31T12:00:00+00:00"
    assert EXAMPLES[MethodNotAllowed].to_dict()["allowed"] == ["partial"]
    assert EXAMPLES[BackendNotFound].to_dict()["installed"] == ["memory", "sql"]
    assert EXAMPLES[InvalidCoupon].to_dict()["coupon_code"] == "SUMMER-10"


def test_a_quantity_exceeded_for_a_return_carries_its_unit_of_measure() -> None:
    error = QuantityExceeded(
        "return of Blender",
        Quantity(quantity=Decimal(3), uom="Units"),
        Quantity(quantity=Decimal(2), uom="Units"),
    )
    assert str(error) == "return of Blender: asked 3 Units, only 2 Units available"
    data = error.to_dict()
    assert (data["kind"], data["asked"]) == ("quantity", {"quantity": "3", "uom": "Units"})


def test_method_not_allowed_is_still_an_invalid_operation() -> None:
    with pytest.raises(InvalidOperation) as info:
        raise MethodNotAllowed("x", method="full", allowed=[CreditMethod.PARTIAL.value])
    assert isinstance(info.value, MethodNotAllowed)
    assert info.value.allowed == ("partial",)


def test_hostile_values_give_short_json_safe_errors() -> None:
    for value in [10**5000, "x" * 10**6, Decimal("1e999999"), object(), [object()] * 1000]:
        error = InvalidInput("field", value, "bad")
        assert len(str(error)) < 120
        assert len(json.dumps(error.to_dict())) < 400
        assert repr_in(str(error)) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("-1"), "-1"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+2"), "100"),
        (date(2020, 1, 1), "2020-01-01"),
        (datetime(2020, 1, 1, 9, 30, tzinfo=UTC), "2020-01-01T09:30:00+00:00"),
        (Money.of("120.88", "EUR"), "120.88 EUR"),
        (Quantity(quantity=Decimal("1.5"), uom="kg"), "1.5 kg"),
        ("INV/2026/1", "INV/2026/1"),
        ("", '""'),
        ("Internal IT", '"Internal IT"'),
        ("it's", '"it\'s"'),
        ("t\x00", '"t\\u0000"'),
        (CreditMethod.PARTIAL, "partial"),
        (("full", "partial"), "full, partial"),
        (frozenset({"b", "a"}), "a, b"),
        ({"move-1": Decimal("-1")}, "move-1: -1"),
        ([], "(none)"),
        (None, "None"),
        (1.5, "(a float: 1.5)"),
        (object(), "(an object)"),
    ],
)
def test_show_writes_values_for_people(value: object, shown: str) -> None:
    assert show(value) == shown


def test_the_repr_check_sees_reprs() -> None:
    for message in [
        "quantity=Decimal('-1'): bad",
        "day=datetime.date(2020, 1, 1)",
        "x=<object object at 0x7f00>",
        "Money(amount=Decimal('1'), currency='EUR')",
    ]:
        assert repr_in(message) is not None, message
    assert repr_in('quantity=-1: must be positive; team "Internal IT"') is None


def test_every_class_documents_its_code() -> None:
    for cls in CLASSES:
        assert inspect.getdoc(cls), cls


# -- refusals of the main flows ---------------------------------------------------------------


def _refusals(app: Any, s: Any) -> list[tuple[str, Any]]:
    agent = s.actors.agent
    move = s.delivery.moves[0].id
    return [
        (
            "a full refund of a paid invoice",
            lambda: app.refunds.reverse(
                s.ticket.id, s.paid_invoice.id, method=CreditMethod.FULL, actor=agent
            ),
        ),
        (
            "a return above what was delivered",
            lambda: app.returns.create(
                s.ticket.id, s.delivery.id, {move: Decimal(10**6)}, actor=agent
            ),
        ),
        (
            "a negative return",
            lambda: app.returns.create(
                s.ticket.id, s.delivery.id, {move: Decimal(-1)}, actor=agent
            ),
        ),
        (
            "a reversal dated before the invoice",
            lambda: app.refunds.reverse(
                s.ticket.id, s.invoice.id, reversal_date=date(2020, 1, 1), actor=agent
            ),
        ),
        (
            "an agent without billing rights",
            lambda: app.refunds.reverse(s.ticket.id, s.invoice.id, actor=s.actors.helpdesk_only),
        ),
        ("an unknown ticket", lambda: app.tickets.view("ticket-nope", actor=agent)),
        ("an unknown coupon code", lambda: app.coupons.redeem("NO SUCH CODE", actor=agent)),
    ]


def test_refusals_of_the_main_flows_show_values_for_people(app: Any, scenario: Any) -> None:
    seen: dict[str, AfterSalesError] = {}
    for label, call in _refusals(app, scenario):
        with pytest.raises(AfterSalesError) as info:
            call()
        error = info.value
        seen[label] = error
        assert repr_in(str(error)) is None, (label, str(error))
        json.dumps(error.to_dict())
    assert isinstance(seen["a full refund of a paid invoice"], MethodNotAllowed)
    assert seen["a return above what was delivered"].to_dict()["kind"] == "quantity"
    assert "=-1" in str(seen["a negative return"])
    assert "2020-01-01" in str(seen["a reversal dated before the invoice"])
    assert isinstance(seen["an agent without billing rights"], AccessDenied)
    assert seen["an unknown ticket"].to_dict()["id"] == "ticket-nope"
    assert '"NO SUCH CODE"' in str(seen["an unknown coupon code"])
