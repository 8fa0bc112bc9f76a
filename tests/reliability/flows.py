"""Every mutating call of every service, ready to run on the standard scenario (RL-1, RL-2).

A `Flow` prepares what its call needs (a fresh ticket, invoice, draft, repair…, made
through the builder and the services) and performs the call. `prepare` makes new targets
each time it runs, so one world can hold many independent runs of the same call. `vary`
makes the same call with other arguments, for the idempotency-conflict check.

`FLOWS` lists them all; `mutating_calls()` lists the public calls that take an
`idempotency_key`, and a test holds the two lists equal, so a new call cannot be left out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from aftersales.app import AfterSales
from aftersales.models import (
    CreditMethod,
    InvoiceLine,
    InvoiceMethod,
    Money,
    OperationLine,
    PartAction,
    PartLine,
    RepairOrder,
    Service,
    TaskStage,
)
from tests.reliability.setting import Setting

__all__ = ["FLOWS", "SERVICES", "Flow", "flow_named", "mutating_calls"]

#: The attributes of [`AfterSales`][aftersales.app.AfterSales] that hold services.
SERVICES: tuple[str, ...] = (
    "settings",
    "subscription",
    "tickets",
    "refunds",
    "coupons",
    "returns",
    "repairs",
    "field_service",
    "outbox",
    "idempotency",
    "imports",
)

Prepare = Callable[[Setting], Any]
Perform = Callable[[Setting, Any, "str | None"], object]


@attrs.frozen(kw_only=True)
class Flow:
    """One mutating call, with what it needs prepared on the standard scenario.

    * `call` is the public name (`"refunds.reverse"`); `name` adds the variant
      (`"refunds.reverse[full]"`) when one call has several flows (it is `call` by
      default);
    * `prepare(setting)` returns the state the call works on (fresh targets every time);
    * `perform(setting, state, key)` makes the call with `idempotency_key=key`;
    * `vary(setting, state, key)` makes the same call with other arguments;
    * `repeatable` is False when a second run cannot start from an equivalent state (a
      module uninstalled for good, a trial that starts once), so two runs cannot be
      compared by what they touched;
    * `emails` is True when the call sends email, delivered after its commit.
    """

    call: str
    name: str = attrs.field(default=attrs.Factory(lambda flow: flow.call, takes_self=True))
    prepare: Prepare
    perform: Perform
    vary: Perform
    repeatable: bool = True
    emails: bool = False


def _credit(amount: str) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            description="Goodwill credit",
            quantity=Decimal(1),
            unit_price=Money.of(amount, "EUR"),
        )
    ]


# -- settings and subscription ----------------------------------------------------------------


def _new_team(s: Setting) -> str:
    return s.world.team(name=f"Team {s.serial()}").id


def _configure(services: set[Service]) -> Perform:
    def perform(s: Setting, team_id: Any, key: str | None) -> object:
        return s.app.settings.configure(
            team_id, enable=services, actor=s.manager, idempotency_key=key
        )

    return perform


def _prepare_install(s: Setting) -> str:
    s.app.settings.uninstall("repair", actor=s.manager)
    return _new_team(s)


def _uninstall(module: str) -> Perform:
    def perform(s: Setting, _state: Any, key: str | None) -> object:
        return s.app.settings.uninstall(module, actor=s.manager, idempotency_key=key)

    return perform


def _reference(s: Setting) -> str:
    return f"SUB-{s.serial():04d}"


def _register(suffix: str) -> Perform:
    def perform(s: Setting, reference: Any, key: str | None) -> object:
        return s.app.subscription.register_paid(
            reference + suffix, actor=s.system, idempotency_key=key
        )

    return perform


# -- refunds ----------------------------------------------------------------------------------


def _refund_target(paid: bool) -> Prepare:
    def prepare(s: Setting) -> tuple[str, str]:
        invoice = s.invoice(paid=Decimal("50.00") if paid else False)
        return s.ticket().id, invoice.id

    return prepare


def _reverse(method: CreditMethod, *, lines: bool = False, reason: str | None = None) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        ticket_id, invoice_id = state
        return s.app.refunds.reverse(
            ticket_id,
            invoice_id,
            method=method,
            lines=_credit("10.00") if lines else None,
            reason=reason,
            actor=s.agent,
            idempotency_key=key,
        )

    return perform


def _two_drafts(s: Setting) -> tuple[str, str]:
    ticket, invoice = s.ticket(), s.invoice()

    def draft() -> str:
        result = s.app.refunds.reverse(ticket.id, invoice.id, lines=_credit("10.00"), actor=s.agent)
        return result.credit_note.id

    return s.twice(draft)


def _update_draft(amount: str) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        return s.app.refunds.update_draft(
            state[0], lines=_credit(amount), actor=s.agent, idempotency_key=key
        )

    return perform


def _on(pick: int, call: str) -> Perform:
    """Make `call` (`"service.method"`) on the id `state[pick]`, as the agent."""
    service, method = call.split(".")

    def perform(s: Setting, state: Any, key: str | None) -> object:
        made: object = getattr(getattr(s.app, service), method)(
            state[pick], actor=s.agent, idempotency_key=key
        )
        return made

    return perform


def _on_an_id(call: str, prepare: Prepare, *, name: str | None = None) -> Flow:
    """A call that takes one id: made on the first of two prepared targets, varied on the
    second."""
    return Flow(
        name=name or call, call=call, prepare=prepare, perform=_on(0, call), vary=_on(1, call)
    )


# -- coupons ----------------------------------------------------------------------------------


def _generate_for(s: Setting) -> tuple[str, str, str]:
    ticket = s.ticket()
    coupon = s.app.coupons.generate(ticket.id, s.scenario.program.id, actor=s.agent)
    return ticket.id, coupon.id, coupon.code


def _generate(expires_in: int | None) -> Perform:
    def perform(s: Setting, ticket_id: Any, key: str | None) -> object:
        expiry = None
        if expires_in is not None:
            expiry = s.app.clock.now().date() + timedelta(days=expires_in)
        return s.app.coupons.generate(
            ticket_id, s.scenario.program.id, expires_on=expiry, actor=s.agent, idempotency_key=key
        )

    return perform


def _send(extra: tuple[str, ...]) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        ticket_id, coupon_id, _code = state
        return s.app.coupons.send(
            ticket_id, coupon_id, extra_recipients=extra, actor=s.agent, idempotency_key=key
        )

    return perform


def _redeem(reference: str) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        return s.app.coupons.redeem(
            state[2], order_reference=reference, actor=s.agent, idempotency_key=key
        )

    return perform


# -- returns ----------------------------------------------------------------------------------


def _return_target(s: Setting) -> tuple[str, str, str]:
    delivery = s.delivery()
    return s.ticket().id, delivery.id, delivery.moves[0].id


def _create_return(quantity: int) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        ticket_id, delivery_id, move_id = state
        return s.app.returns.create(
            ticket_id,
            delivery_id,
            {move_id: Decimal(quantity)},
            actor=s.agent,
            idempotency_key=key,
        )

    return perform


def _two_returns(s: Setting) -> tuple[str, str]:
    ticket_id, delivery_id, move_id = _return_target(s)

    def one() -> str:
        made = s.app.returns.create(ticket_id, delivery_id, {move_id: Decimal(1)}, actor=s.agent)
        return made.id

    return s.twice(one)


# -- repairs ----------------------------------------------------------------------------------


def _repair(s: Setting, method: InvoiceMethod = InvoiceMethod.NONE) -> RepairOrder:
    sc = s.scenario
    return s.app.repairs.create(
        s.ticket().id,
        invoice_method=method,
        parts=[PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=Decimal(1))],
        operations=[OperationLine(product_id=sc.repair_service.id)],
        actor=s.agent,
    )


def _repairs_in(*steps: str, method: InvoiceMethod = InvoiceMethod.NONE) -> Prepare:
    """Two repairs, each moved through `steps` (names of RepairService calls)."""

    def prepare(s: Setting) -> tuple[str, str]:
        def one() -> str:
            repair = _repair(s, method)
            for step in steps:
                moved = getattr(s.app.repairs, step)(repair.id, actor=s.agent)
                repair = moved.repair if step == "create_invoice" else moved
            return repair.id

        return s.twice(one)

    return prepare


def _create_repair(description: str) -> Perform:
    def perform(s: Setting, ticket_id: Any, key: str | None) -> object:
        sc = s.scenario
        return s.app.repairs.create(
            ticket_id,
            quantity=Decimal(1),
            lot="LOT-7",
            description=description,
            invoice_method=InvoiceMethod.AFTER_REPAIR,
            parts=[PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=Decimal(2))],
            operations=[OperationLine(product_id=sc.repair_service.id, quantity=Decimal(2))],
            quotation_notes="Parts under warranty are free.",
            actor=s.agent,
            idempotency_key=key,
        )

    return perform


def _update_repair(description: str) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        sc = s.scenario
        return s.app.repairs.update(
            state[0],
            quantity=Decimal(2),
            description=description,
            invoice_method=InvoiceMethod.AFTER_REPAIR,
            parts=[PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=Decimal(3))],
            actor=s.agent,
            idempotency_key=key,
        )

    return perform


# -- field service ----------------------------------------------------------------------------


def _task_call(view: bool, title: str) -> Perform:
    def perform(s: Setting, ticket_id: Any, key: str | None) -> object:
        create = (
            s.app.field_service.create_and_view_task if view else s.app.field_service.create_task
        )
        return create(
            ticket_id,
            title=title,
            planned_at=s.app.clock.now() + timedelta(days=2),
            assignee_id="technician-1",
            actor=s.agent,
            idempotency_key=key,
        )

    return perform


def _two_tasks(s: Setting) -> tuple[str, str]:
    ticket = s.ticket()
    return s.twice(lambda: s.app.field_service.create_task(ticket.id, actor=s.agent).id)


def _set_stage(stage: TaskStage) -> Perform:
    def perform(s: Setting, state: Any, key: str | None) -> object:
        return s.app.field_service.set_stage(state[0], stage, actor=s.agent, idempotency_key=key)

    return perform


def _ticket(s: Setting) -> str:
    return s.ticket().id


# -- the table ----------------------------------------------------------------------------------

FLOWS: tuple[Flow, ...] = (
    Flow(
        call="settings.configure",
        prepare=_new_team,
        perform=_configure({Service.REFUNDS, Service.RETURNS, Service.FIELD_SERVICE}),
        vary=_configure({Service.REFUNDS}),
    ),
    Flow(
        name="settings.configure[install]",
        call="settings.configure",
        prepare=_prepare_install,
        perform=_configure({Service.REPAIRS}),
        vary=_configure({Service.REPAIRS, Service.COUPONS}),
        repeatable=False,
    ),
    Flow(
        call="settings.uninstall",
        prepare=lambda s: None,
        perform=_uninstall("helpdesk_fsm"),
        vary=_uninstall("helpdesk_repair"),
        repeatable=False,
    ),
    Flow(
        call="subscription.register_paid",
        prepare=_reference,
        perform=_register(""),
        vary=_register("-B"),
    ),
    Flow(
        name="refunds.reverse[partial]",
        call="refunds.reverse",
        prepare=_refund_target(paid=False),
        perform=_reverse(CreditMethod.PARTIAL),
        vary=_reverse(CreditMethod.PARTIAL, reason="Another reason"),
    ),
    Flow(
        name="refunds.reverse[lines]",
        call="refunds.reverse",
        prepare=_refund_target(paid=False),
        perform=_reverse(CreditMethod.PARTIAL, lines=True),
        vary=_reverse(CreditMethod.PARTIAL),
    ),
    Flow(
        name="refunds.reverse[full]",
        call="refunds.reverse",
        prepare=_refund_target(paid=True),
        perform=_reverse(CreditMethod.FULL),
        vary=_reverse(CreditMethod.FULL_AND_REINVOICE),
    ),
    Flow(
        name="refunds.reverse[full_and_reinvoice]",
        call="refunds.reverse",
        prepare=_refund_target(paid=True),
        perform=_reverse(CreditMethod.FULL_AND_REINVOICE),
        vary=_reverse(CreditMethod.FULL),
    ),
    Flow(
        call="refunds.update_draft",
        prepare=_two_drafts,
        perform=_update_draft("6.00"),
        vary=_update_draft("7.00"),
    ),
    _on_an_id("refunds.confirm", _two_drafts),
    _on_an_id("refunds.cancel", _two_drafts),
    Flow(
        call="coupons.generate",
        prepare=_ticket,
        perform=_generate(None),
        vary=_generate(30),
    ),
    Flow(
        call="coupons.send",
        prepare=_generate_for,
        perform=_send(()),
        vary=_send(("service@example.com",)),
        emails=True,
    ),
    Flow(
        call="coupons.redeem",
        prepare=_generate_for,
        perform=_redeem("S-0001"),
        vary=_redeem("S-0002"),
    ),
    Flow(
        call="returns.create",
        prepare=_return_target,
        perform=_create_return(1),
        vary=_create_return(2),
    ),
    _on_an_id("returns.validate", _two_returns),
    _on_an_id("returns.cancel", _two_returns),
    Flow(
        call="repairs.create",
        prepare=_ticket,
        perform=_create_repair("Motor noise"),
        vary=_create_repair("Another description"),
    ),
    Flow(
        call="repairs.update",
        prepare=_repairs_in(),
        perform=_update_repair("Motor noise, both speeds"),
        vary=_update_repair("Another description"),
    ),
    _on_an_id("repairs.confirm", _repairs_in()),
    _on_an_id("repairs.start", _repairs_in("confirm")),
    _on_an_id("repairs.end", _repairs_in("confirm", "start")),
    _on_an_id(
        "repairs.create_invoice",
        _repairs_in("confirm", method=InvoiceMethod.BEFORE_REPAIR),
        name="repairs.create_invoice[before_repair]",
    ),
    _on_an_id(
        "repairs.create_invoice",
        _repairs_in("confirm", "start", "end", method=InvoiceMethod.AFTER_REPAIR),
        name="repairs.create_invoice[after_repair]",
    ),
    _on_an_id(
        "repairs.cancel",
        _repairs_in("confirm", "create_invoice", method=InvoiceMethod.BEFORE_REPAIR),
    ),
    _on_an_id("repairs.reset_to_draft", _repairs_in("cancel")),
    _on_an_id("repairs.delete", _repairs_in()),
    Flow(
        call="field_service.create_task",
        prepare=_ticket,
        perform=_task_call(False, "On-site visit"),
        vary=_task_call(False, "Another visit"),
    ),
    Flow(
        call="field_service.create_and_view_task",
        prepare=_ticket,
        perform=_task_call(True, "On-site visit"),
        vary=_task_call(True, "Another visit"),
    ),
    Flow(
        call="field_service.set_stage",
        prepare=_two_tasks,
        perform=_set_stage(TaskStage.PLANNED),
        vary=_set_stage(TaskStage.IN_PROGRESS),
    ),
    _on_an_id("field_service.mark_done", _two_tasks),
)


def flow_named(name: str) -> Flow:
    """The flow called `name` (`KeyError` naming the known ones otherwise)."""
    for flow in FLOWS:
        if flow.name == name:
            return flow
    raise KeyError(f"no flow {name!r}; known: {', '.join(f.name for f in FLOWS)}")


def mutating_calls(app: AfterSales) -> frozenset[str]:
    """Every public service call of `app` that takes an `idempotency_key`."""
    found: set[str] = set()
    for attribute in SERVICES:
        service = getattr(app, attribute)
        for name, method in inspect.getmembers(service, inspect.ismethod):
            if name.startswith("_"):
                continue
            if "idempotency_key" in inspect.signature(method).parameters:
                found.add(f"{attribute}.{name}")
    return frozenset(found)
