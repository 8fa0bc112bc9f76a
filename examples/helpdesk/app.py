"""The web application: FastAPI routes, Jinja2 pages, one error handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol, TypeVar

from babel.numbers import format_currency
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aftersales.errors import AfterSalesError, NotFound
from aftersales.errors import InvalidInput as InvalidInputError
from aftersales.models import (
    Actor,
    CreditMethod,
    Group,
    InvoiceLine,
    InvoiceMethod,
    Money,
    PartAction,
    Service,
)
from aftersales.models.repairs import OperationLine, PartLine
from aftersales.testing.scenario import AGENT, HELPDESK_ONLY

from .api import add_api
from .host import Helpdesk, catalogue

HERE = Path(__file__).parent

#: The helpdesk's users, as its login would give them (the demo switches by cookie).
USERS: Mapping[str, Actor] = {
    "agent": AGENT,
    "helpdesk-only": HELPDESK_ONLY,
    "manager": Actor(
        user_id="manager",
        groups=frozenset(
            {Group.HELPDESK_MANAGER, Group.BILLING, Group.STOCK_USER, Group.FIELD_SERVICE_USER}
        ),
    ),
    "ana": Actor(user_id="ana", groups=frozenset({Group.PORTAL}), partner_id="2"),
}


def create_app(helpdesk: Helpdesk, *, locale: str = "en_US") -> FastAPI:
    """The web helpdesk over `helpdesk` (its app's helpdesk port serves the host's tickets);
    amounts are shown for `locale`."""
    app = helpdesk.app
    web = FastAPI(title="aftersales helpdesk example")
    templates = Jinja2Templates(directory=HERE / "templates")

    def money(value: Money) -> str:
        return format_currency(value.amount, value.currency, locale=locale)

    templates.env.filters["money"] = money
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def actor_of(request: Request) -> Actor:
        return USERS.get(request.cookies.get("user", "agent"), AGENT)

    add_api(web, app, actor_of)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = request.cookies.get("user", "agent")
        return templates.TemplateResponse(
            request, name, {"user": user, "users": list(USERS), **context}, status_code=status
        )

    @web.exception_handler(AfterSalesError)
    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, AfterSalesError)
        body = error.to_dict()
        if request.url.path.startswith("/api/"):
            return JSONResponse(body, status_code=error.http_status)
        return page(request, "error.html", status=error.http_status, error=body)

    async def form(request: Request) -> dict[str, list[str]]:
        data = await request.form()
        found: dict[str, list[str]] = {}
        for key, value in data.multi_items():
            if isinstance(value, str):
                found.setdefault(key, []).append(value)
        return found

    def one(data: Mapping[str, list[str]], key: str, default: str = "") -> str:
        return data.get(key, [default])[0]

    def decimal(field: str, text: str) -> Decimal:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise InvalidInputError(field, text, "must be a number") from None

    def back(ticket_id: str, note: str = "") -> RedirectResponse:
        url = f"/tickets/{ticket_id}" + (f"?note={note}" if note else "")
        return RedirectResponse(url, status_code=303)

    @web.get("/", response_class=HTMLResponse)
    def home() -> RedirectResponse:
        return RedirectResponse("/tickets/1", status_code=303)

    @web.get("/login/{user}")
    def login(user: str, next: str = "/tickets/1") -> RedirectResponse:
        local = next.startswith("/") and not next.startswith("//")  # no redirect elsewhere
        response = RedirectResponse(next if local else "/", status_code=303)
        response.set_cookie("user", user if user in USERS else "agent")
        return response

    @web.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    def ticket(request: Request, ticket_id: str, note: str = "") -> HTMLResponse:
        actor = actor_of(request)
        view = app.tickets.view(ticket_id, actor=actor)
        context: dict[str, Any] = {"view": view, "note": note, "products": catalogue(helpdesk)}
        if "Refund" in view.actions:
            invoices = app.refunds.invoices_to_refund(ticket_id, actor=actor)
            context["invoices"] = invoices
            context["methods"] = (
                app.refunds.credit_methods(ticket_id, invoices[0].id, actor=actor)
                if invoices
                else ()
            )
        if "Coupon" in view.actions:
            context["programs"] = app.coupons.programs(ticket_id, actor=actor)
        if "Return" in view.actions:
            deliveries = app.returns.deliveries(ticket_id, actor=actor)
            context["drafts"] = [
                app.returns.prepare(ticket_id, d.id, actor=actor) for d in deliveries
            ]
        if "Repair" in view.actions:
            context["returns"] = (
                app.returns.returns(ticket_id, actor=actor) if ("Return" in view.actions) else ()
            )
            context["invoice_methods"] = list(InvoiceMethod)
        if "Create task" in view.actions:
            team = app.settings.team_settings(view.ticket.team_id, actor=Actor.system())
            context["project_id"] = team.fsm_project_id
        return page(request, "ticket.html", **context)

    # -- refunds ---------------------------------------------------------------------------

    @web.post("/tickets/{ticket_id}/refund")
    async def reverse(request: Request, ticket_id: str) -> Response:
        data = await form(request)
        result = app.refunds.reverse(
            ticket_id,
            one(data, "invoice_id"),
            method=one(data, "method", CreditMethod.PARTIAL.value),
            reason=one(data, "reason") or None,
            actor=actor_of(request),
            idempotency_key=one(data, "key") or None,
        )
        note = result.credit_note
        if note.number is None:  # a draft: edit it, then confirm
            return RedirectResponse(f"/credit-notes/{note.id}?ticket={ticket_id}", status_code=303)
        return back(ticket_id, f"Credit note {note.number} posted")

    @web.get("/credit-notes/{invoice_id}", response_class=HTMLResponse)
    @web.get("/invoices/{invoice_id}", response_class=HTMLResponse)
    def invoice(request: Request, invoice_id: str, ticket: str) -> HTMLResponse:
        shown = app.refunds.invoice(ticket, invoice_id, actor=actor_of(request))
        return page(request, "invoice.html", shown=shown, note=shown.invoice, ticket_id=ticket)

    @web.post("/credit-notes/{credit_note_id}")
    async def edit_credit_note(request: Request, credit_note_id: str) -> Response:
        data = await form(request)
        ticket_id = one(data, "ticket")
        actor = actor_of(request)
        draft = app.refunds.invoice(ticket_id, credit_note_id, actor=actor).invoice
        lines = [
            InvoiceLine(
                description=line.description,
                quantity=decimal(f"quantity_{i}", one(data, f"quantity_{i}", "0")),
                unit_price=Money.of(
                    decimal(f"price_{i}", one(data, f"price_{i}", "0")), line.unit_price.currency
                ),
                taxes=line.taxes,
                product_id=line.product_id,
            )
            for i, line in enumerate(draft.lines)
            if decimal(f"quantity_{i}", one(data, f"quantity_{i}", "0")) > 0
        ]
        app.refunds.update_draft(credit_note_id, lines=lines, actor=actor)
        if one(data, "confirm"):
            done = app.refunds.confirm(credit_note_id, actor=actor)
            return back(ticket_id, f"Credit note {done.credit_note.number} posted")
        return RedirectResponse(
            f"/credit-notes/{credit_note_id}?ticket={ticket_id}", status_code=303
        )

    # -- coupons ---------------------------------------------------------------------------

    @web.post("/tickets/{ticket_id}/coupon", response_class=HTMLResponse)
    async def generate(request: Request, ticket_id: str) -> HTMLResponse:
        data = await form(request)
        coupon = app.coupons.generate(
            ticket_id,
            one(data, "program_id"),
            expires_on=app.clock.now().date() + timedelta(days=90),
            actor=actor_of(request),
        )
        return page(request, "coupon.html", coupon=coupon, ticket_id=ticket_id, sent=None)

    @web.post("/tickets/{ticket_id}/coupon/{coupon_id}/send", response_class=HTMLResponse)
    async def send(request: Request, ticket_id: str, coupon_id: str) -> HTMLResponse:
        data = await form(request)
        extra = [a.strip() for a in one(data, "extra").split(",") if a.strip()]
        actor = actor_of(request)
        sent = app.coupons.send(ticket_id, coupon_id, extra_recipients=extra, actor=actor)
        coupon = _one(app.coupons.coupons(ticket_id, actor=actor), coupon_id, "coupon")
        return page(request, "coupon.html", coupon=coupon, ticket_id=ticket_id, sent=sent)

    # -- returns ---------------------------------------------------------------------------

    @web.post("/tickets/{ticket_id}/return")
    async def create_return(request: Request, ticket_id: str) -> Response:
        data = await form(request)
        quantities = {
            key.removeprefix("qty_"): decimal(key, values[0])
            for key, values in data.items()
            if key.startswith("qty_")
        }
        made = app.returns.create(
            ticket_id, one(data, "delivery_id"), quantities, actor=actor_of(request)
        )
        return back(ticket_id, f"Return {made.reference} created")

    # -- repairs ---------------------------------------------------------------------------

    @web.post("/tickets/{ticket_id}/repair")
    async def create_repair(request: Request, ticket_id: str) -> Response:
        data = await form(request)
        parts = [
            PartLine(action=PartAction.ADD, product_id=p, quantity=decimal("part_qty", q))
            for p, q in zip(data.get("part", []), data.get("part_qty", []), strict=False)
            if p
        ]
        operations = [
            OperationLine(product_id=p, quantity=decimal("op_qty", q))
            for p, q in zip(data.get("operation", []), data.get("op_qty", []), strict=False)
            if p
        ]
        repair = app.repairs.create(
            ticket_id,
            product_id=one(data, "product_id") or None,
            description=one(data, "description"),
            sale_order_id=one(data, "sale_order_id") or None,
            return_id=one(data, "return_id") or None,
            invoice_method=one(data, "invoice_method", InvoiceMethod.NONE.value),
            parts=parts,
            operations=operations,
            internal_notes=one(data, "internal_notes"),
            quotation_notes=one(data, "quotation_notes"),
            actor=actor_of(request),
        )
        return RedirectResponse(f"/repairs/{repair.id}?ticket={ticket_id}", status_code=303)

    @web.get("/repairs/{repair_id}", response_class=HTMLResponse)
    def repair(request: Request, repair_id: str, ticket: str) -> HTMLResponse:
        found = app.repairs.repair(ticket, repair_id, actor=actor_of(request))
        quotation = app.repairs.quotation_data(repair_id, actor=actor_of(request))
        return page(request, "repair.html", repair=found, quotation=quotation)

    @web.get("/repairs/{repair_id}/quotation.pdf")
    def quotation(request: Request, repair_id: str) -> Response:
        pdf = app.repairs.quotation(repair_id, actor=actor_of(request), format="pdf")
        return Response(pdf, media_type="application/pdf")

    @web.get("/returns/{return_id}", response_class=HTMLResponse)
    def return_page(request: Request, return_id: str, ticket: str) -> HTMLResponse:
        shown = app.returns.picking(ticket, return_id, actor=actor_of(request))
        return page(request, "return.html", shown=shown, ticket_id=ticket)

    # -- field service ---------------------------------------------------------------------

    @web.post("/tickets/{ticket_id}/task")
    async def create_task(request: Request, ticket_id: str) -> Response:
        data = await form(request)
        actor = actor_of(request)
        title = one(data, "title") or None
        if one(data, "view"):
            shown = app.field_service.create_and_view_task(ticket_id, title=title, actor=actor)
            return RedirectResponse(f"/tasks/{shown.task.id}?ticket={ticket_id}", status_code=303)
        task = app.field_service.create_task(ticket_id, title=title, actor=actor)
        return back(ticket_id, f"Task {task.title} created")

    @web.get("/tasks/{task_id}", response_class=HTMLResponse)
    def task(request: Request, task_id: str, ticket: str) -> HTMLResponse:
        shown = app.field_service.task(ticket, task_id, actor=actor_of(request))
        return page(request, "task.html", shown=shown, task=shown.task, ticket_id=ticket)

    # -- settings and portal ---------------------------------------------------------------

    @web.get("/teams/{team_id}/settings", response_class=HTMLResponse)
    def settings(request: Request, team_id: str, enable: str = "") -> HTMLResponse:
        actor = actor_of(request)
        team = app.settings.team_settings(team_id, actor=actor)
        plan = app.settings.plan(team_id, enable={enable}, actor=actor) if enable else None
        return page(
            request,
            "settings.html",
            team=team,
            plan=plan,
            services=_services(),
            subscription=app.subscription.status(actor=actor),
            modules=app.settings.modules(actor=actor),
        )

    @web.post("/teams/{team_id}/settings")
    async def configure(request: Request, team_id: str) -> Response:
        data = await form(request)
        actor = actor_of(request)
        wanted = set(data.get("service", []))
        team = app.settings.team_settings(team_id, actor=actor)
        on = {s.value for s in team.services}
        app.settings.configure(team_id, enable=wanted - on, disable=on - wanted, actor=actor)
        return RedirectResponse(f"/teams/{team_id}/settings", status_code=303)

    @web.get("/portal", response_class=HTMLResponse)
    def portal(request: Request) -> HTMLResponse:
        tasks = app.field_service.portal_tasks(actor=actor_of(request))
        return page(request, "portal.html", tasks=tasks)

    return web


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)


def _one(records: Iterable[R], record_id: str, kind: str) -> R:
    """The record `record_id` among those of the ticket, or `NotFound` (shown as a 404)."""
    for record in records:
        if record.id == record_id:
            return record
    raise NotFound(kind, record_id)


def _services() -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in Service]
