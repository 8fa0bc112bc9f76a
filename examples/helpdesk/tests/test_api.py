"""The JSON endpoints and the OpenAPI document that describes them: every endpoint's answer
validates against the schema its document gives, refusals against `Error`. Over HTTP on the
served helpdesk (no browser needed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aftersales.models import Actor, Group
from aftersales.testing.scenario import AGENT

from .conftest import Server

MANAGER = Actor(user_id="manager", groups={Group.HELPDESK_MANAGER})


def _get(server: Server, path: str, user: str = "agent") -> tuple[int, Any]:
    request = urllib.request.Request(server.url + path, headers={"Cookie": f"user={user}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.load(refused)


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    status, found = _get(server, "/openapi.json")
    assert status == 200 and isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def paths(server: Server) -> dict[str, str]:
    """One path of each endpoint, on documents made from ticket 1."""
    app = server.helpdesk.app
    invoice = app.refunds.invoices_to_refund("1", actor=AGENT)[-1]
    note = app.refunds.reverse("1", invoice.id, method="full", actor=AGENT).credit_note
    draft = app.returns.prepare("1", actor=AGENT)
    returned = app.returns.create(
        "1", draft.delivery_id, {draft.lines[0].move_id: Decimal(1)}, actor=AGENT
    )
    task = app.field_service.create_task("1", actor=AGENT)
    app.settings.configure("1", enable={"repairs"}, actor=MANAGER)
    repair = app.repairs.create("1", actor=AGENT)
    return {
        "/api/tickets/{ticket_id}": "/api/tickets/1",
        "/api/tickets/{ticket_id}/trail": "/api/tickets/1/trail",
        "/api/tickets/{ticket_id}/invoices/{invoice_id}": f"/api/tickets/1/invoices/{note.id}",
        "/api/tickets/{ticket_id}/invoices/{invoice_id}/methods": (
            f"/api/tickets/1/invoices/{invoice.id}/methods"
        ),
        "/api/tickets/{ticket_id}/returns/{return_id}": f"/api/tickets/1/returns/{returned.id}",
        "/api/tickets/{ticket_id}/repairs/{repair_id}": f"/api/tickets/1/repairs/{repair.id}",
        "/api/tickets/{ticket_id}/tasks/{task_id}": f"/api/tickets/1/tasks/{task.id}",
        "/api/modules": "/api/modules",
    }


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema`, its `#/components/...` references resolved in `document`."""
    return Draft202012Validator({**schema, "components": document["components"]})


def _response_schema(document: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    response = document["paths"][path]["get"]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def test_the_document_is_openapi_3_1_with_the_records_schemas(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    schemas = document["components"]["schemas"]
    for name in ("TicketView", "InvoiceView", "ReturnView", "TaskView", "RepairOrder", "Error"):
        Draft202012Validator.check_schema(schemas[name])
    assert schemas["InvoiceView"]["properties"]["invoice"] == {
        "$ref": "#/components/schemas/Invoice"
    }


def test_every_json_endpoint_answers_what_its_schema_says(
    server: Server, document: dict[str, Any], paths: dict[str, str]
) -> None:
    documented = {p for p in document["paths"] if p.startswith("/api/")}
    assert documented == set(paths)
    for template, path in paths.items():
        status, body = _get(server, path, user="manager" if "modules" in path else "agent")
        assert status == 200, (path, body)
        _validator(document, _response_schema(document, template, 200)).validate(body)
    view = _get(server, "/api/tickets/1")[1]
    assert view["counts"]["credit_notes"] == 1 and view["ticket"]["id"] == "1"
    ticket_view = _validator(document, _response_schema(document, "/api/tickets/{ticket_id}", 200))
    assert not ticket_view.is_valid({**view, "extra": 1})
    assert not ticket_view.is_valid({**view, "counts": {**view["counts"], "tasks": "1"}})


_INVOICE = "/api/tickets/{ticket_id}/invoices/{invoice_id}"


@pytest.mark.parametrize(
    ("template", "path", "user", "code", "status"),
    [
        (_INVOICE, "/api/tickets/1/invoices/nope", "agent", "not_found", 404),
        ("/api/tickets/{ticket_id}", "/api/tickets/99", "agent", "not_found", 404),
        (_INVOICE, "/api/tickets/1/invoices/bad%20id", "agent", "invalid_input", 422),
        ("/api/modules", "/api/modules", "agent", "access_denied", 403),
    ],
)
def test_a_refusal_answers_the_documented_error(
    server: Server,
    document: dict[str, Any],
    template: str,
    path: str,
    user: str,
    code: str,
    status: int,
) -> None:
    answered, body = _get(server, path, user=user)
    assert (answered, body["code"]) == (status, code)
    _validator(document, _response_schema(document, template, status)).validate(body)


def test_an_access_refusal_names_the_missing_group(server: Server, paths: dict[str, str]) -> None:
    status, body = _get(server, paths[_INVOICE], user="helpdesk-only")
    assert (status, body["code"]) == (403, "access_denied") and "billing" in body["message"]
