"""The JSON Schema of the records (aftersales.schema) says exactly what the converter writes:
the converter's output of every public call's result validates against the schema of the
call's return type, and the schema refuses what the converter never writes."""

from __future__ import annotations

import copy
import json
import re
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from aftersales import AfterSales
from aftersales.errors import (
    AccessDenied,
    AfterSalesError,
    DatabaseLocked,
    InvalidInput,
    NotFound,
    QuantityExceeded,
    ServiceDisabled,
)
from aftersales.models import Invoice, Money, Service
from aftersales.paging import Page
from aftersales.schema import (
    DECIMAL_PATTERN,
    DIALECT,
    definitions,
    error_schema,
    json_schema,
    schema_name,
)
from aftersales.serialization import converter
from aftersales.services.tickets import TicketView
from tests.reliability.flows import SERVICES
from tests.reliability.hostile import CALLS, PublicCall, invoke, prepare_targets
from tests.reliability.setting import Setting

#: Calls whose result is a rendered document (text, HTML or PDF), not a record.
DOCUMENTS = frozenset({"repairs.quotation"})

FORMATS = FormatChecker()


def _date_time(text: object) -> bool:
    """RFC 3339 as `datetime.isoformat()` writes it for an aware time."""
    if not isinstance(text, str):
        return True
    moment = datetime.fromisoformat(text)
    return "T" in text and moment.tzinfo is not None


def _date(text: object) -> bool:
    return not isinstance(text, str) or date.fromisoformat(text).isoformat() == text


FORMATS.checks("date-time", raises=ValueError)(_date_time)
FORMATS.checks("date", raises=ValueError)(_date)


def result_types(app: AfterSales) -> dict[str, Any]:
    """Every public call's return type, by name (`refunds.invoice`)."""
    found: dict[str, Any] = {}
    for attribute in SERVICES:
        service = getattr(app, attribute)
        for name in dir(service):
            method = getattr(service, name)
            if not name.startswith("_") and callable(method):
                found[f"{attribute}.{name}"] = typing.get_type_hints(method)["return"]
    return found


RESULTS = result_types(AfterSales("memory"))


def _valid(kind: Any, data: Any) -> None:
    schema = json_schema(kind)
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=FORMATS).validate(data)


def _json(value: object) -> Any:
    return json.loads(json.dumps(converter.unstructure(value)))


def _call_id(call: PublicCall) -> str:
    return call.name


@pytest.mark.parametrize("call", [c for c in CALLS if c.name not in DOCUMENTS], ids=_call_id)
def test_every_result_validates_against_the_schema_of_its_type(
    setting: Setting, call: PublicCall
) -> None:
    result = invoke(setting, prepare_targets(setting), call)
    _valid(RESULTS[call.name], _json(result))


def test_every_public_call_but_the_rendered_documents_has_a_schema() -> None:
    assert set(RESULTS) >= DOCUMENTS
    for name, kind in RESULTS.items():
        if name in DOCUMENTS:
            with pytest.raises(InvalidInput, match="has no JSON form"):
                json_schema(kind)
        else:
            Draft202012Validator.check_schema(json_schema(kind))


# -- what the schema says -------------------------------------------------------------------


def test_records_are_definitions_with_every_field_required_and_nothing_else() -> None:
    schema = json_schema(TicketView)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$ref"] == "#/$defs/TicketView"
    view = schema["$defs"]["TicketView"]
    fields = [f.name for f in attrs.fields(TicketView)]
    assert list(view["properties"]) == fields and view["required"] == fields
    assert view["additionalProperties"] is False
    assert view["properties"]["ticket"] == {"$ref": "#/$defs/Ticket"}
    assert view["properties"]["documents"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/LinkedDocument"},
    }
    assert view["properties"]["customer_name"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert set(schema["$defs"]) == {
        "TicketView",
        "Ticket",
        "DocumentCounts",
        "LinkedDocument",
        "TicketMessage",
    }


def test_scalars_have_the_converters_forms() -> None:
    money = json_schema(Money)["$defs"]["Money"]["properties"]
    assert money["amount"] == {"type": "string", "pattern": DECIMAL_PATTERN}
    invoice = json_schema(Invoice)["$defs"]["Invoice"]["properties"]
    assert invoice["created_at"] == {"type": "string", "format": "date-time"}
    assert invoice["invoice_date"] == {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]
    }
    assert invoice["kind"] == {"type": "string", "enum": ["invoice", "credit_note"]}
    assert invoice["lines"]["type"] == "array"
    team = json_schema(frozenset[Service])
    assert team["uniqueItems"] is True and team["items"]["enum"] == [s.value for s in Service]


def test_a_generic_record_is_named_and_bound_by_its_arguments() -> None:
    schema = json_schema(Page[Invoice])
    assert schema_name(Page[Invoice]) == "Page_Invoice" and schema["$ref"] == "#/$defs/Page_Invoice"
    page = schema["$defs"]["Page_Invoice"]["properties"]
    assert page["items"] == {"type": "array", "items": {"$ref": "#/$defs/Invoice"}}


def test_definitions_reference_openapi_components() -> None:
    found = definitions([TicketView, Page[Invoice]])
    assert {"TicketView", "Page_Invoice", "Invoice", "Money"} <= set(found)
    assert found["TicketView"]["properties"]["ticket"] == {"$ref": "#/components/schemas/Ticket"}


@pytest.mark.parametrize(
    ("decimal", "valid"),
    [
        (Decimal("9.50"), True),
        (Decimal("-1"), True),
        (Decimal("1E+30"), True),
        (Decimal("0.0000001"), True),
        ("9,50", False),
        ("", False),
        ("NaN", False),
        (" 1", False),
    ],
)
def test_the_decimal_pattern_takes_what_str_writes_and_nothing_else(
    decimal: object, valid: bool
) -> None:
    text = converter.unstructure(decimal) if isinstance(decimal, Decimal) else decimal
    validator = Draft202012Validator(json_schema(Decimal))
    assert validator.is_valid(text) is valid


def _mangled(data: dict[str, Any], change: Any) -> dict[str, Any]:
    wrong = copy.deepcopy(data)
    change(wrong)
    return wrong


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["invoice"]["residual"].update(amount=9.5),  # a number, not a string
        lambda d: d.update(extra="x"),  # a key the converter does not write
        lambda d: d.pop("customer_name"),  # a field left out
        lambda d: d["invoice"].update(state="paid"),  # not an InvoiceState
        lambda d: d["invoice"].update(created_at="2026-12-01 09:00"),  # not RFC 3339
        lambda d: d["invoice"].update(invoice_date="2026-12-01T09:00:00+00:00"),
        lambda d: d.update(ticket_ref=None),
        lambda d: d["invoice"].update(lines={}),
    ],
)
def test_the_schema_refuses_what_the_converter_never_writes(setting: Setting, change: Any) -> None:
    sc, app = setting.scenario, setting.app
    note = app.refunds.reverse(sc.ticket.id, sc.invoice.id, method="full", actor=sc.actors.agent)
    data = _json(app.refunds.invoice(sc.ticket.id, note.credit_note.id, actor=sc.actors.agent))
    kind = RESULTS["refunds.invoice"]
    _valid(kind, data)
    with pytest.raises(ValidationError):
        _valid(kind, _mangled(data, change))


@pytest.mark.parametrize("kind", [bytes, object, dict[int, str], complex])
def test_a_type_without_a_json_form_is_refused(kind: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        json_schema(kind)
    assert refused.value.field == "kind"


# -- the documentation ------------------------------------------------------------------------


def _form(kind: Any) -> str:
    """How docs/json.md writes a call's JSON form: a definition's name, `[X]` for an array."""
    if typing.get_origin(kind) is tuple:
        return f"[{_form(typing.get_args(kind)[0])}]"
    if kind is int:
        return "integer"
    return schema_name(kind)


def test_the_json_page_lists_every_calls_form() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "json.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| `([^`]+)` \|$", page, re.M))
    expected = {name: _form(kind) for name, kind in RESULTS.items() if name not in DOCUMENTS}
    assert listed == expected


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        InvalidInput("quantity", Decimal("-1"), "must be positive"),
        NotFound("invoice", "inv-1"),
        AccessDenied("refund", "user luis is not in group(s): billing"),
        QuantityExceeded("refund", Money.of("10.00", "EUR"), Money.of("5.00", "EUR")),
        DatabaseLocked(datetime(2026, 12, 13, 9, 0, tzinfo=UTC)),
        ServiceDisabled("Support", "refunds"),
        AfterSalesError("something failed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_errors_json_validates_against_the_error_schema(error: AfterSalesError) -> None:
    schema = {"$schema": DIALECT, **error_schema()}
    Draft202012Validator.check_schema(schema)
    data = json.loads(json.dumps(error.to_dict()))
    Draft202012Validator(schema).validate(data)
    with pytest.raises(ValidationError):
        Draft202012Validator(schema).validate({**data, "status": 200})
    with pytest.raises(ValidationError):
        Draft202012Validator(schema).validate({**data, "extra": 1})


def test_the_error_schema_has_one_branch_a_code() -> None:
    codes = [branch["properties"]["code"]["const"] for branch in error_schema()["oneOf"]]
    assert len(codes) == len(set(codes)) and "not_found" in codes


def test_two_records_of_one_name_get_two_definitions() -> None:
    first = attrs.make_class("Line", {"quantity": attrs.field(type=int)})
    second = attrs.make_class("Line", {"text": attrs.field(type=str)})
    second.__module__ = "aftersales.other"
    holder = attrs.make_class(
        "Holder", {"a": attrs.field(type=first), "b": attrs.field(type=second)}
    )
    found = json_schema(holder)["$defs"]
    assert found["Holder"]["properties"] == {
        "a": {"$ref": "#/$defs/Line"},
        "b": {"$ref": "#/$defs/other_Line"},
    }
    assert list(found["other_Line"]["properties"]) == ["text"]


def test_records_whose_names_cannot_be_told_apart_are_refused() -> None:
    lines = [attrs.make_class("Line", {f"f{n}": attrs.field(type=int)}) for n in range(4)]
    for line in lines:
        line.__module__ = "aftersales.other"
    holder = attrs.make_class(
        "Holder", {f"l{n}": attrs.field(type=line) for n, line in enumerate(lines)}
    )
    with pytest.raises(InvalidInput, match="the name of another record"):
        json_schema(holder)
