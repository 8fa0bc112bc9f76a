"""The JSON endpoints under `/api/` and the OpenAPI document that describes them.

Each endpoint answers with the converter's JSON of what its call returns; the document's
`components.schemas` are `aftersales.schema.definitions()` of those records (and `Error`,
the JSON of `to_dict()`), referenced from each endpoint's responses.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import attrs
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from aftersales import AfterSales
from aftersales.models import Actor, CreditMethod, RepairOrder, TicketMessage
from aftersales.paging import Page
from aftersales.schema import definitions, error_schema, json_schema, schema_name
from aftersales.serialization import converter
from aftersales.services.field_service import TaskView
from aftersales.services.refunds import InvoiceView
from aftersales.services.returns import ReturnView
from aftersales.services.tickets import TicketView
from aftersales.settings import InstalledModule

__all__ = ["add_api"]

_COMPONENTS = "#/components/schemas/"

#: The statuses of the refusals every endpoint may answer, as `to_dict()` (docs/errors.md).
_REFUSALS = {
    403: "The user may not read it",
    404: "No such ticket, or no such document linked to it",
    422: "An argument of the wrong shape",
    423: "The database is locked: the trial ended without a subscription",
}


def _ref(kind: Any) -> dict[str, Any]:
    """The schema of `kind` with its records referenced in the components."""
    if typing.get_origin(kind) is tuple:
        return {"type": "array", "items": _ref(typing.get_args(kind)[0])}
    if not attrs.has(typing.get_origin(kind) or kind):
        schema = json_schema(kind)
        schema.pop("$schema")
        return schema
    return {"$ref": f"{_COMPONENTS}{schema_name(kind)}"}


def _records(kind: Any) -> list[Any]:
    if typing.get_origin(kind) is tuple:
        return _records(typing.get_args(kind)[0])
    return [kind] if attrs.has(typing.get_origin(kind) or kind) else []


def add_api(web: FastAPI, app: AfterSales, actor_of: Callable[[Request], Actor]) -> None:
    """Add the JSON endpoints over `app` to `web`, and its OpenAPI document at
    `/openapi.json` (FastAPI's own route) with the records' schemas."""
    records: list[Any] = []

    def get(path: str, kind: Any, summary: str) -> Callable[[Callable[..., Any]], None]:
        """Register a GET whose call returns a `kind`, answered as the converter's JSON."""
        records.extend(_records(kind))

        def register(call: Callable[..., Any]) -> None:
            async def endpoint(request: Request) -> JSONResponse:
                given = {**request.query_params, **request.path_params}
                arguments = {name: given[name] for name in _names(call) if name in given}
                return JSONResponse(converter.unstructure(call(actor_of(request), **arguments)))

            endpoint.__name__ = call.__name__
            responses: dict[int | str, dict[str, Any]] = {
                200: {
                    "description": summary,
                    "content": {"application/json": {"schema": _ref(kind)}},
                }
            }
            for status, description in _REFUSALS.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"{_COMPONENTS}Error"}}},
                }
            web.add_api_route(
                path,
                endpoint,
                methods=["GET"],
                summary=summary,
                response_class=JSONResponse,
                response_model=None,
                responses=responses,
                openapi_extra={"parameters": _parameters(path, call)},
            )

        return register

    @get("/api/tickets/{ticket_id}", TicketView, "The ticket view")
    def ticket_view(actor: Actor, ticket_id: str) -> TicketView:
        return app.tickets.view(ticket_id, actor=actor)

    @get("/api/tickets/{ticket_id}/trail", Page[TicketMessage], "One page of the trail")
    def trail(actor: Actor, ticket_id: str, cursor: str | None = None) -> Page[TicketMessage]:
        return app.tickets.trail_page(ticket_id, cursor=cursor, actor=actor)

    @get(
        "/api/tickets/{ticket_id}/invoices/{invoice_id}",
        InvoiceView,
        "An invoice or credit note of the ticket",
    )
    def invoice(actor: Actor, ticket_id: str, invoice_id: str) -> InvoiceView:
        return app.refunds.invoice(ticket_id, invoice_id, actor=actor)

    @get(
        "/api/tickets/{ticket_id}/invoices/{invoice_id}/methods",
        tuple[CreditMethod, ...],
        "The credit methods an invoice allows",
    )
    def methods(actor: Actor, ticket_id: str, invoice_id: str) -> tuple[CreditMethod, ...]:
        return app.refunds.credit_methods(ticket_id, invoice_id, actor=actor)

    @get("/api/tickets/{ticket_id}/returns/{return_id}", ReturnView, "A return of the ticket")
    def return_view(actor: Actor, ticket_id: str, return_id: str) -> ReturnView:
        return app.returns.picking(ticket_id, return_id, actor=actor)

    @get("/api/tickets/{ticket_id}/repairs/{repair_id}", RepairOrder, "A repair of the ticket")
    def repair(actor: Actor, ticket_id: str, repair_id: str) -> RepairOrder:
        return app.repairs.repair(ticket_id, repair_id, actor=actor)

    @get("/api/tickets/{ticket_id}/tasks/{task_id}", TaskView, "A task of the ticket")
    def task(actor: Actor, ticket_id: str, task_id: str) -> TaskView:
        return app.field_service.task(ticket_id, task_id, actor=actor)

    @get("/api/modules", tuple[InstalledModule, ...], "The installed modules")
    def modules(actor: Actor) -> tuple[InstalledModule, ...]:
        return app.settings.modules(actor=actor)

    def openapi() -> dict[str, Any]:
        if web.openapi_schema is None:
            document = get_openapi(title=web.title, version=web.version, routes=web.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(definitions(records, ref_prefix=_COMPONENTS))
            schemas["Error"] = error_schema()
            web.openapi_schema = document
        return web.openapi_schema

    web.openapi = openapi  # type: ignore[method-assign]


def _names(call: Callable[..., Any]) -> list[str]:
    """The parameters of an endpoint's call besides the actor."""
    return [name for name in typing.get_type_hints(call) if name not in ("actor", "return")]


def _parameters(path: str, call: Callable[..., Any]) -> list[dict[str, Any]]:
    """The path parameters of `path` and the optional query parameters of `call`."""
    return [
        {
            "name": name,
            "in": "path" if f"{{{name}}}" in path else "query",
            "required": f"{{{name}}}" in path,
            "schema": {"type": "string"},
        }
        for name in _names(call)
    ]
