"""The demo: a small helpdesk world and every after-sales flow of the library, explained.

`run_demo()` builds the world through the backend's builder, runs each flow through the
public services and writes what happened as readable sections (`Section`); the
`aftersales demo` command prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from aftersales.app import AfterSales
from aftersales.builder import Builder
from aftersales.models import (
    Actor,
    CreditMethod,
    InvoiceMethod,
    PartAction,
    Picking,
    Service,
)
from aftersales.models.repairs import OperationLine, PartLine
from aftersales.services.tickets import TicketView
from aftersales.testing.scenario import Scenario, build_scenario

__all__ = [
    "Section",
    "coupon_section",
    "field_service_section",
    "refund_row",
    "render_table",
    "return_section",
    "run_demo",
    "table",
    "ticket_view_sections",
]


@attrs.frozen
class Section:
    """A titled block of demo output: a few lines of text and optional tables."""

    title: str
    lines: tuple[str, ...] = ()
    tables: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = ()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: a header, a rule and one line per row."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """A table of a `Section`: its headers and its rows as text."""
    return tuple(headers), tuple(tuple(str(c) for c in row) for row in rows)


def run_demo(app: AfterSales, world: Builder, emit: Callable[[Section], None]) -> Scenario:
    """Build the demo world in `app`'s backend and run every after-sales flow on it."""
    sc = build_scenario(world, services=frozenset(), install_modules=False)
    manager, agent, system = sc.actors.manager, sc.actors.agent, sc.actors.system
    emit(_world_section(sc))

    # -- settings: plan, then enable -----------------------------------------------------------
    plan = app.settings.plan(sc.team.id, enable=set(Service), actor=manager)
    apps = set(plan.applications)
    emit(
        Section(
            "Plan: turning every after-sales service on for team 'Support' (dry run)",
            (plan.warning or "Every module needed is already installed.",),
            (
                table(
                    ["module", "application"],
                    [(m, "yes" if m in apps else "") for m in plan.modules],
                ),
            ),
        )
    )
    settings = app.settings.configure(sc.team.id, enable=set(Service), actor=manager)
    sub = settings.subscription
    ends = sub.trial_ends_at.date().isoformat() if sub.trial_ends_at else "-"
    emit(
        Section(
            "Enabled",
            (
                f"Installed {len(settings.installed)} modules. Subscription: {sub.state.value}"
                f" (trial ends {ends}).",
            ),
            (
                table(
                    ["service", "on"],
                    [(s.label, "yes" if settings.team.has(s) else "no") for s in Service],
                ),
            ),
        )
    )

    # -- refunds: the three credit methods ----------------------------------------------------
    emit(_refunds(app, world, sc))

    # -- coupon: generate and send --------------------------------------------------------------
    emit(coupon_section(app, sc.ticket.id, sc.program.id, agent=agent, system=system))

    # -- return: one blender of two ---------------------------------------------------------------
    emit(return_section(app, sc.ticket.id, sc.blender.id, actor=agent))

    # -- repair: through its life cycle ---------------------------------------------------------
    emit(_repair(app, world, sc))

    # -- field service ----------------------------------------------------------------------
    emit(field_service_section(app, sc.ticket.id, actor=agent))

    # -- the ticket -------------------------------------------------------------------------
    for section in ticket_view_sections(app.tickets.view(sc.ticket.id, actor=agent)):
        emit(section)
    return sc


def coupon_section(
    app: AfterSales, ticket_id: str, program_id: str, *, agent: Actor, system: Actor
) -> Section:
    """Generate a coupon of `program_id` on the ticket and send it to the customer."""
    coupon = app.coupons.generate(
        ticket_id,
        program_id,
        expires_on=app.clock.now().date() + timedelta(days=90),
        actor=agent,
    )
    sent = app.coupons.send(ticket_id, coupon.id, actor=agent)
    email = next(m for m in app.outbox.emails(actor=system) if m.id == sent.email_id)
    return Section(
        "Coupon",
        (
            f"Generated {coupon.code} ({coupon.program_name}: {coupon.reward}), "
            f"valid until {coupon.expires_on}.",
            f"Sent to: {', '.join(sent.recipients)}",
            f"Subject: {email.subject}",
            "",
            *email.text_body.splitlines(),
        ),
    )


def return_section(app: AfterSales, ticket_id: str, product_id: str, *, actor: Actor) -> Section:
    """Return one unit of `product_id` from the ticket's delivery and validate it."""
    draft = app.returns.prepare(ticket_id, actor=actor)
    line = next(line for line in draft.lines if line.product_id == product_id)
    ret = app.returns.create(ticket_id, draft.delivery_id, {line.move_id: Decimal(1)}, actor=actor)
    return _return_section(app, ticket_id, app.returns.validate(ret.id, actor=actor), actor)


def field_service_section(app: AfterSales, ticket_id: str, *, actor: Actor) -> Section:
    """A field-service task made from the ticket in its team's project."""
    opened = app.field_service.create_and_view_task(
        ticket_id, title="Check the blender's motor on site", actor=actor
    )
    return Section(
        "Field-service task",
        (
            f"'{opened.task.title}' in project {opened.project_name}, stage "
            f"{opened.task.stage.value}; open it at {opened.route}",
        ),
    )


def _world_section(sc: Scenario) -> Section:
    return Section(
        "The helpdesk world (what the ERP already holds)",
        (),
        (
            table(
                ["record", "value"],
                [
                    ("customer", f"{sc.customer.name} ({sc.company.name}), {sc.customer.email}"),
                    ("followers", "Ana Pérez, Marta Seguidora"),
                    ("open invoice", f"{sc.invoice.number}: {sc.invoice.total}"),
                    ("paid invoice", f"{sc.paid_invoice.number}: {sc.paid_invoice.total}"),
                    ("delivery", f"{sc.delivery.reference} (done): 2 Blender, 1 Kettle"),
                    ("coupon program", sc.program.name),
                    ("project", f"{sc.project.name} (field service)"),
                    ("team", f"{sc.team.name} (no after-sales service on yet)"),
                    ("ticket", f"#{sc.ticket.ref} {sc.ticket.title}"),
                ],
            ),
        ),
    )


def _refunds(app: AfterSales, world: Builder, sc: Scenario) -> Section:
    agent = sc.actors.agent
    full = world.invoice(customer=sc.customer, lines=[(sc.kettle, 2)], paid=Decimal("10.00"))
    redo = world.invoice(customer=sc.customer, lines=[(sc.blender, 1)])
    lines = [
        f"Methods offered for {sc.invoice.number}: "
        + ", ".join(
            m.value for m in app.refunds.credit_methods(sc.ticket.id, sc.invoice.id, actor=agent)
        ),
        f"Methods offered for {sc.paid_invoice.number} (paid): "
        + ", ".join(
            m.value
            for m in app.refunds.credit_methods(sc.ticket.id, sc.paid_invoice.id, actor=agent)
        ),
    ]
    rows: list[tuple[object, ...]] = []
    partial = app.refunds.reverse(
        sc.ticket.id,
        sc.invoice.id,
        method=CreditMethod.PARTIAL,
        actor=agent,
        lines=[sc.invoice.lines[0]],
    )
    partial = app.refunds.confirm(partial.credit_note.id, actor=agent)
    for method, invoice_id in (
        (CreditMethod.FULL, full.id),
        (CreditMethod.FULL_AND_REINVOICE, redo.id),
    ):
        result = app.refunds.reverse(sc.ticket.id, invoice_id, method=method, actor=agent)
        rows.append(refund_row(method, result))
    rows.insert(0, refund_row(CreditMethod.PARTIAL, partial))
    return Section(
        "Refunds: one credit note per method",
        tuple(lines),
        (
            table(
                [
                    "method",
                    "credit note",
                    "state",
                    "amount",
                    "invoice",
                    "residual",
                    "payment",
                    "customer credit",
                    "new draft",
                ],
                rows,
            ),
        ),
    )


def refund_row(method: CreditMethod, result: Any) -> tuple[object, ...]:
    note, invoice = result.credit_note, result.invoice
    return (
        method.value,
        note.number or "draft",
        note.state.value,
        note.total,
        invoice.number,
        invoice.residual,
        invoice.payment_state.value,
        result.customer_credit,
        "yes" if result.new_invoice else "",
    )


def _return_section(app: AfterSales, ticket_id: str, ret: Picking, actor: Actor) -> Section:
    """The return just validated, and the delivery's lines as they are after it."""
    after = app.returns.prepare(ticket_id, ret.return_of_id, actor=actor)
    back: dict[str, Decimal] = {}
    for move in ret.moves:
        if move.origin_move_id is not None:
            back[move.origin_move_id] = back.get(move.origin_move_id, Decimal(0)) + move.quantity
    names = {line.move_id: line.product_name for line in after.lines}
    what = ", ".join(f"{qty.normalize():f} {names[move_id]}" for move_id, qty in back.items())
    return Section(
        "Return",
        (f"{ret.reference} ({ret.origin}) is {ret.state.value}: {what} back in stock.",),
        (
            table(
                ["product", "delivered", "in this return", "returned", "reserved", "left"],
                [
                    (
                        line.product_name,
                        line.delivered,
                        back.get(line.move_id, Decimal(0)),
                        line.returned,
                        line.reserved,
                        line.quantity,
                    )
                    for line in after.lines
                ],
            ),
        ),
    )


def _repair(app: AfterSales, world: Builder, sc: Scenario) -> Section:
    agent = sc.actors.agent
    motor = world.product(name="Blender motor", price=Decimal("25.00"), taxes=("21%",))
    repair = app.repairs.create(
        sc.ticket.id,
        description="Stops after ten seconds.",
        invoice_method=InvoiceMethod.AFTER_REPAIR,
        parts=[PartLine(action=PartAction.ADD, product_id=motor.id, quantity=Decimal(1))],
        operations=[OperationLine(product_id=sc.repair_service.id, quantity=Decimal(2))],
        internal_notes="Check the jar too.",
        quotation_notes="Parts are guaranteed for 6 months.",
        actor=agent,
    )
    states = [repair.state.value]
    for step in (app.repairs.confirm, app.repairs.start, app.repairs.end):
        repair = step(repair.id, actor=agent)
        states.append(repair.state.value)
    invoiced = app.repairs.create_invoice(repair.id, actor=agent)
    states.append(invoiced.repair.state.value)
    quotation = app.repairs.quotation(repair.id, actor=agent, format="text")
    return Section(
        f"Repair {repair.reference}",
        (
            "Life cycle: " + " → ".join(states),
            f"Invoice (draft, for billing to post): {invoiced.invoice.total}",
            "",
            "Quotation:",
            *quotation.splitlines(),
        ),
    )


def ticket_view_sections(view: TicketView) -> list[Section]:
    """The ticket view as sections: actions and counts, documents, trail (AC-5)."""
    counts = view.counts
    return [
        Section(
            f"Ticket #{view.ticket.ref}: {view.ticket.title}",
            (
                f"Team {view.team_name}; customer {view.customer_name or '-'}",
                "Actions: " + (", ".join(view.actions) or "none"),
            ),
            (
                table(
                    ["credit notes", "invoices", "coupons", "returns", "repairs", "tasks"],
                    [
                        (
                            counts.credit_notes,
                            counts.invoices,
                            counts.coupons,
                            counts.returns,
                            counts.repairs,
                            counts.tasks,
                        )
                    ],
                ),
            ),
        ),
        Section(
            "Linked documents",
            (),
            (
                table(
                    ["kind", "document", "state", "detail"],
                    [(d.kind.value, d.name, d.state, d.detail) for d in view.documents],
                ),
            ),
        ),
        Section(
            "Trail (newest first)",
            (),
            (
                table(
                    ["when", "who", "message"],
                    [(m.at.strftime("%Y-%m-%d %H:%M"), m.author_id, m.body) for m in view.trail],
                ),
            ),
        ),
    ]
