"""The flows the benchmark times, the world they run in, and bulk data for scaling.

A :class:`Flow` has an untimed ``setup`` that stores what ``n`` calls need (one invoice
per refund, one draft per confirmation, one customer with a delivery per return) and
returns one *case* per call, and a timed ``call`` that runs one case. Cases are plain
ids, so a worker process can run them against its own connection to the same store.

Every world is the standard scenario of :func:`aftersales.testing.build_scenario`, built
through the backend's builder, so every backend runs the same data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.builder import Builder
from aftersales.models import (
    Actor,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    MoveState,
    OperationLine,
    PartAction,
    PartLine,
    Partner,
    Picking,
    PickingKind,
    PickingState,
    StockMove,
    Ticket,
    TicketMessage,
)
from aftersales.testing import Scenario, build_scenario

from .direct import call_directly, call_through_pluggy

__all__ = [
    "FLOWS",
    "REFUND_FLOWS",
    "SCALING",
    "START",
    "Flow",
    "World",
    "bulk_load",
    "documented_ticket",
    "make_world",
    "reattach",
]

START = "2026-11-28T09:00:00+00:00"


@attrs.define
class World:
    """An app over one backend with the standard scenario stored."""

    backend: Any
    app: AfterSales
    builder: Builder
    scenario: Scenario
    documented: str | None = None

    @property
    def agent(self) -> Actor:
        return self.scenario.actors.agent


def make_world(backend: Any, *, direct: bool = False, plain: bool = False) -> World:
    """The standard world on ``backend``; ``direct`` bypasses the plugin manager, ``plain``
    calls the same implementations through a bare ``pluggy.PluginManager``."""
    clock = FrozenClock(START)
    app = AfterSales(backend, clock=clock)
    if direct:
        call_directly(app, backend)
    elif plain:
        call_through_pluggy(app)
    builder = backend.builder(clock)
    return World(backend=backend, app=app, builder=builder, scenario=build_scenario(builder))


def reattach(world: World, backend: Any) -> World:
    """The same world over another handle on its store (a worker process's connection)."""
    clock = FrozenClock(START)
    app = AfterSales(backend, clock=clock)
    return World(
        backend=backend,
        app=app,
        builder=backend.builder(clock),
        scenario=world.scenario,
        documented=world.documented,
    )


@attrs.frozen
class Flow:
    """One user-visible call (or two, when the UI always makes them together)."""

    name: str
    description: str
    setup: Callable[[World, int], Sequence[Any]]
    call: Callable[[World, Any], object]


# -- cases ------------------------------------------------------------------------------------


def _invoices(world: World, n: int) -> list[str]:
    sc = world.scenario
    return [
        world.builder.invoice(customer=sc.customer, lines=[(sc.blender, 2), (sc.kettle, 1)]).id
        for _ in range(n)
    ]


def _same_ticket(world: World, n: int) -> list[str]:
    return [world.scenario.ticket.id] * n


def _refund(method: CreditMethod) -> Callable[[World, Any], object]:
    def call(world: World, invoice_id: Any) -> object:
        return world.app.refunds.reverse(
            world.scenario.ticket.id, invoice_id, method=method, actor=world.agent
        )

    return call


def _drafts(world: World, n: int) -> list[str]:
    ticket, reverse = world.scenario.ticket.id, world.app.refunds.reverse
    return [
        reverse(ticket, invoice, actor=world.agent).credit_note.id
        for invoice in _invoices(world, n)
    ]


def _confirm(world: World, note_id: Any) -> object:
    return world.app.refunds.confirm(note_id, actor=world.agent)


def _coupon(world: World, ticket_id: Any) -> object:
    return world.app.coupons.generate(ticket_id, world.scenario.program.id, actor=world.agent)


def _return_cases(world: World, n: int) -> list[str]:
    """One customer per call, each with one done delivery and a ticket: a normal customer."""
    sc, build = world.scenario, world.builder
    tickets = []
    for index in range(n):
        customer = build.customer(name=f"Return customer {index}", email="r@example.com")
        build.delivery(customer=customer, lines=[(sc.blender, 2), (sc.kettle, 1)])
        ticket = build.ticket(team=sc.team, title="Blender broken", customer=customer)
        tickets.append(ticket.id)
    return tickets


def _return(world: World, ticket_id: Any) -> object:
    returns = world.app.returns
    draft = returns.prepare(ticket_id, actor=world.agent)
    return returns.create(ticket_id, draft.delivery_id, draft.quantities(), actor=world.agent)


def _repair(world: World, ticket_id: Any) -> object:
    sc, repairs = world.scenario, world.app.repairs
    repair = repairs.create(
        ticket_id,
        description="Stops after ten seconds.",
        parts=[PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=Decimal(1))],
        operations=[OperationLine(product_id=sc.repair_service.id, quantity=Decimal("1.5"))],
        actor=world.agent,
    )
    return repairs.confirm(repair.id, actor=world.agent)


def _task(world: World, ticket_id: Any) -> object:
    return world.app.field_service.create_task(ticket_id, actor=world.agent)


def documented_ticket(world: World) -> str:
    """A new ticket of the scenario's customer with one document of each kind on it, as
    after a busy case (a new one: other flows pile documents on the scenario ticket)."""
    sc, app, agent = world.scenario, world.app, world.agent
    ticket = world.builder.ticket(
        team=sc.team,
        title="Blender broken again",
        customer=sc.customer,
        product=sc.blender,
        sale_order=sc.order,
    ).id
    extra = world.builder.invoice(customer=sc.customer, lines=[(sc.kettle, 1)])
    app.refunds.reverse(ticket, extra.id, actor=agent)
    app.coupons.generate(ticket, sc.program.id, actor=agent)
    draft = app.returns.prepare(ticket, sc.delivery.id, actor=agent)
    first = draft.lines[0].move_id
    app.returns.create(ticket, sc.delivery.id, {first: Decimal(1)}, actor=agent)
    app.repairs.create(ticket, description="Noisy motor.", actor=agent)
    app.field_service.create_task(ticket, actor=agent)
    return ticket


def _viewed(world: World, n: int) -> list[str]:
    """The documented ticket, built once per world, for every call."""
    if world.documented is None:
        world.documented = documented_ticket(world)
    return [world.documented] * n


def _view(world: World, ticket_id: Any) -> object:
    return world.app.tickets.view(ticket_id, actor=world.agent)


#: The timed flows, in table order.
FLOWS: tuple[Flow, ...] = (
    Flow(
        "refund.partial",
        "reverse, PARTIAL: a draft credit note",
        _invoices,
        _refund(CreditMethod.PARTIAL),
    ),
    Flow("refund.full", "reverse, FULL: posted and matched", _invoices, _refund(CreditMethod.FULL)),
    Flow(
        "refund.full_and_reinvoice",
        "reverse, FULL_AND_REINVOICE: + a draft invoice",
        _invoices,
        _refund(CreditMethod.FULL_AND_REINVOICE),
    ),
    Flow("refund.confirm", "confirm a PARTIAL draft credit note", _drafts, _confirm),
    Flow("coupon.generate", "generate a coupon from the ticket", _same_ticket, _coupon),
    Flow(
        "return.prepare_create",
        "prepare the return dialog, then create",
        _return_cases,
        _return,
    ),
    Flow(
        "repair.create_confirm",
        "create (1 part, 1 operation), then confirm",
        _same_ticket,
        _repair,
    ),
    Flow("task.create", "create a field-service task", _same_ticket, _task),
    Flow("ticket.view", "view a ticket with 5 linked documents", _viewed, _view),
)

#: Which flows are refund flows (the 100 µs target).
REFUND_FLOWS = frozenset(f.name for f in FLOWS if f.name.startswith("refund."))


# -- scaling ----------------------------------------------------------------------------------


def _listing(world: World, ticket_id: Any) -> object:
    return world.app.refunds.invoices_to_refund(ticket_id, actor=world.agent)


def _prepare(world: World, ticket_id: Any) -> object:
    return world.app.returns.prepare(ticket_id, actor=world.agent)


#: The reads whose cost must not grow with the store.
SCALING: tuple[Flow, ...] = (
    Flow(
        "refunds.invoices_to_refund",
        "refundable invoices of the ticket's customer",
        _viewed,
        _listing,
    ),
    Flow("returns.prepare", "the return dialog for the ticket", _viewed, _prepare),
    Flow("tickets.view", "the ticket view", _viewed, _view),
)


def bulk_load(world: World, size: int, *, batch: int = 5_000) -> None:
    """Store ``size`` invoices, ``size`` done deliveries and ``size`` tickets (with one
    message each) of ``size // 4`` other customers, of the measured ticket's own product (the
    blender): a product filter of the measured reads meets every bulk line and move.

    Records go through the builder's ``put_many`` (the SQL builder's runs one
    ``executemany`` per table), ``batch`` records per unit of work; the messages, which are
    the library's own trail and not ERP data, through the ``post_message`` hook in the same
    unit.
    """
    sc = world.scenario
    now = world.app.clock.now() - timedelta(days=30)
    day = now.date()
    product = sc.blender  # the documented ticket's product
    line = InvoiceLine(
        description=product.name,
        quantity=Decimal(1),
        unit_price=product.price,
        taxes=product.taxes,
        product_id=product.id,
    )
    total = Invoice(
        id="bulk-template",
        kind=InvoiceKind.INVOICE,
        customer_id=sc.customer.id,
        currency=product.price.currency,
        lines=(line,),
        state=InvoiceState.POSTED,
        created_at=now,
    ).total
    customers = max(size // 4, 1)

    def records() -> Iterator[object]:
        for k in range(customers):
            yield Partner(id=f"bulk-p{k}", name=f"Customer {k}", commercial_entity_id=f"bulk-p{k}")
        for k in range(size):
            customer = f"bulk-p{k % customers}"
            yield Invoice(
                id=f"bulk-inv{k}",
                kind=InvoiceKind.INVOICE,
                customer_id=customer,
                currency=total.currency,
                lines=(line,),
                state=InvoiceState.POSTED,
                created_at=now,
                residual=total,
                number=f"INV/{day.year - 1}/{k:06d}",
                invoice_date=day,
            )
            yield Picking(
                id=f"bulk-pick{k}",
                kind=PickingKind.DELIVERY,
                reference=f"WH/OUT/B{k:06d}",
                partner_id=customer,
                source_location="WH/Stock",
                destination_location="Partners/Customers",
                state=PickingState.DONE,
                moves=(
                    StockMove(
                        id=f"bulk-move{k}",
                        product_id=product.id,
                        quantity=Decimal(1),
                        state=MoveState.DONE,
                    ),
                ),
                created_at=now,
                done_at=now,
            )
            yield Ticket(
                id=f"bulk-ticket{k}",
                ref=f"B{k}",
                title="Blender leaks",
                team_id=sc.team.id,
                created_at=now,
                customer_id=customer,
            )
            yield TicketMessage(
                id=f"bulk-msg{k}",
                ticket_id=f"bulk-ticket{k}",
                at=now,
                author_id="agent",
                body="Sent a photo of the leak.",
            )

    stream = records()
    while chunk := list(itertools.islice(stream, batch)):
        with world.app.runtime.unit(writes=True) as uow:
            world.builder.put_many(r for r in chunk if not isinstance(r, TicketMessage))
            for record in chunk:
                if isinstance(record, TicketMessage):
                    world.app.hooks.post_message(record)
            uow.commit()
