"""The demo on Tryton: the SQL backend as helpdesk and after-sales store, Tryton as the ERP.

`run_tryton_demo()` builds a small world (a customer, products and posted invoices made in
Tryton; a team and a ticket in the store), then shows every flow whose service Tryton
serves (`served_services`: each ERP port the service needs is owned by the Tryton
backend) and, for every other service, the refused toggle with the message a manager
reads. `existing_accounting()` finds what a Tryton database already holds for the demo
(or creates a company and its accounting in a database that has no company at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from proteus import Model

from aftersales.app import AfterSales
from aftersales.clock import SystemClock
from aftersales.demo import (
    Section,
    coupon_section,
    field_service_section,
    refund_row,
    return_section,
    table,
    ticket_view_sections,
)
from aftersales.errors import ConfigurationError, InvalidConfiguration
from aftersales.models import CreditMethod, Partner, Product, Reward, RewardKind, Service
from aftersales.models.accounting import Invoice
from aftersales.ports import PORTS, Owner
from aftersales.testing.scenario import AGENT, MANAGER, SYSTEM
from aftersales_tryton import invoices
from aftersales_tryton._values import record_id
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from aftersales_tryton.connection import Config
from aftersales_tryton.local import local_database, setup_world
from aftersales_tryton.world import Accounting

__all__ = [
    "demo_local",
    "demo_over_rpc",
    "existing_accounting",
    "run_tryton_demo",
    "served_services",
]

#: The after-sales modules the demo marks installed in the store (the host's own).
HOST_MODULES = ("base", "mail", "helpdesk")


def served_services(app: AfterSales, erp: str = "tryton") -> tuple[Service, ...]:
    """The services each of whose ERP ports `erp` owns in `app` (in `Service` order)."""
    owners = app.pm.owners()

    def erp_ports(service: Service) -> list[str]:
        wanted = frozenset({service.value})
        return [p.name for p in PORTS if p.owner is Owner.ERP and p.needed_by(wanted)]

    return tuple(s for s in Service if all(owners.get(p) == erp for p in erp_ports(s)))


def existing_accounting(config: Config, *, today: dt.date) -> Accounting:
    """What the demo needs from a Tryton database: the user's company and its accounting.

    A database with no company at all gets one (with its chart of accounts, fiscal years
    `today`'s and the next, a 21 % tax and a payment term). Otherwise nothing is created:
    what is missing is named in a `ConfigurationError`.
    """
    company_id = config.context.get("company")
    if company_id is None:
        if Model.get("company.company", config=config).find([], limit=1):
            raise ConfigurationError(
                "the Tryton user has no current company: choose one in the user's preferences"
            )
        return setup_world(config, today=today)
    company = ("company", "=", company_id)
    missing: list[str] = []

    def first(model: str, what: str, *domain: tuple[str, str, Any]) -> int:
        found = Model.get(model, config=config).find(list(domain), limit=1)
        if not found:
            missing.append(what)
            return 0
        return record_id(found[0])

    def account(kind: str, *more: tuple[str, str, Any]) -> int:
        domain = (company, (f"type.{kind}", "=", True), ("closed", "!=", True), *more)
        return first("account.account", f"a {kind} account", *domain)

    accounting = Accounting(
        company_id=int(company_id),
        currency_code=str(Model.get("company.company", config=config)(company_id).currency.code),
        fiscal_year_id=first(
            "account.fiscalyear",
            f"an open fiscal year holding {today}",
            company,
            ("state", "=", "open"),
            ("start_date", "<=", today),
            ("end_date", ">=", today),
        ),
        receivable_account_id=account("receivable"),
        revenue_account_id=account("revenue"),
        expense_account_id=account("expense"),
        cash_account_id=account(
            "assets", ("type.receivable", "=", False), ("type.stock", "=", False)
        ),
        tax_id=first("account.tax", "a percentage tax", company, ("type", "=", "percentage")),
        payment_term_id=first("account.invoice.payment_term", "a payment term"),
        account_category_id=first(
            "product.category",
            "a product category with accounting (revenue and expense accounts)",
            ("accounting", "=", True),
        ),
    )
    if missing:
        raise ConfigurationError(
            "the Tryton database's company lacks what the demo needs: "
            + "; ".join(missing)
            + " (or give a database with no company: the demo then creates one)"
        )
    return accounting


def demo_local(folder: Path, emit: Callable[[Section], None]) -> tuple[Service, ...]:
    """The demo on a new Tryton database made in `folder` (`aftersales_tryton.local`),
    in this process, with a SQLite store beside it; the services shown."""
    tryton = local_database(folder / "tryton")
    return _run_on(TrytonBackend(config=tryton.config), tryton.accounting, folder, emit)


def demo_over_rpc(
    url: str, *, user: str, password: str, folder: Path, emit: Callable[[Section], None]
) -> tuple[Service, ...]:
    """The demo on the Tryton database at `url` (over XML-RPC), with a SQLite store in
    `folder`; the services shown. What it makes in Tryton stays there."""
    erp = TrytonBackend(url=url, user=user, password=password)
    try:
        accounting = existing_accounting(erp.config, today=dt.date.today())
        return _run_on(erp, accounting, folder, emit)
    finally:
        erp.close()


def _run_on(
    erp: TrytonBackend, accounting: Accounting, folder: Path, emit: Callable[[Section], None]
) -> tuple[Service, ...]:
    from aftersales.backends.sql import SqlBackend

    folder.mkdir(parents=True, exist_ok=True)
    store = SqlBackend(folder / "aftersales.db")
    try:
        app = AfterSales(store, clock=SystemClock(), plugins=[erp])
        return run_tryton_demo(app, TrytonBuilder(erp, accounting, store.builder(app.clock)), emit)
    finally:
        store.close()


@attrs.frozen
class _World:
    customer: Partner
    blender: Product
    kettle: Product
    invoice: Invoice
    ticket_id: str
    ticket_ref: str


def run_tryton_demo(
    app: AfterSales, world: TrytonBuilder, emit: Callable[[Section], None]
) -> tuple[Service, ...]:
    """Show every flow `app`'s Tryton serves and the refusal of every other service;
    the services shown."""
    served = served_services(app)
    world.install(*HOST_MODULES)
    customer = world.customer(name="Ana Pérez", email="ana@perez.example")
    blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
    invoice = world.invoice(customer=customer, lines=[(blender, 2), (kettle, 1)])
    project = world.project(name="Field Service") if Service.FIELD_SERVICE in served else None
    team = world.team(name="Support", fsm_project=project)
    ticket = world.ticket(
        team=team,
        title="Blender broken",
        customer=customer,
        product=blender,
        followers=[customer],
        description="The blender stopped after a week.",
    )
    w = _World(customer, blender, kettle, invoice, ticket.id, str(ticket.ref))
    emit(
        Section(
            "The world: Tryton holds the customer, the products and the invoices",
            (f"Ports owned by Tryton: {', '.join(_tryton_ports(app))}.",),
            (
                table(
                    ["record", "value"],
                    [
                        ("customer", f"{customer.name} (Tryton party {customer.id})"),
                        ("products", f"Blender {blender.price}, Kettle {kettle.price}"),
                        ("invoice", f"{invoice.number} (Tryton's number): {invoice.total}"),
                        ("team", f"{team.name} (after-sales store)"),
                        ("ticket", f"#{ticket.ref} {ticket.title}"),
                    ],
                ),
            ),
        )
    )
    emit(_settings_section(app, team.id, served))
    emit(_refused_section(app, team.id, served))
    flows: dict[Service, Callable[[], Section]] = {
        Service.REFUNDS: lambda: _refunds(app, world, w),
        Service.COUPONS: lambda: _coupon(app, world, w),
        Service.RETURNS: lambda: _return(app, world, w),
        Service.FIELD_SERVICE: lambda: field_service_section(app, w.ticket_id, actor=AGENT),
    }
    for service in served:
        if service in flows:
            emit(flows[service]())
    for section in ticket_view_sections(app.tickets.view(ticket.id, actor=AGENT)):
        emit(section)
    return served


def _tryton_ports(app: AfterSales) -> list[str]:
    return [port for port, owner in app.pm.owners().items() if owner == "tryton"]


def _settings_section(app: AfterSales, team_id: str, served: tuple[Service, ...]) -> Section:
    plan = app.settings.plan(team_id, enable=set(served), actor=MANAGER)
    done = app.settings.configure(team_id, enable=set(served), actor=MANAGER)
    sub = done.subscription
    return Section(
        "Enabled: the services Tryton serves",
        (
            "Tryton modules to activate: " + (", ".join(plan.modules) or "none (all activated)"),
            f"Subscription: {sub.state.value} ({sub.paid_reference}).",
        ),
        (
            table(
                ["service", "on"], [(s.label, "yes" if done.team.has(s) else "no") for s in Service]
            ),
        ),
    )


def _refused_section(app: AfterSales, team_id: str, served: tuple[Service, ...]) -> Section:
    """Each service Tryton does not serve, turned on by the manager: refused, and why."""
    lines: list[str] = []
    for service in Service:
        if service in served:
            continue
        try:
            app.settings.configure(team_id, enable=[*served, service], actor=MANAGER)
        except InvalidConfiguration as refused:
            lines += [f"{service.label}: refused, the team's settings unchanged.", f"  {refused}"]
        else:
            lines.append(f"{service.label}: enabled (served by the store's backend)")
    return Section("Refused: the services Tryton does not serve", tuple(lines))


def _refunds(app: AfterSales, world: TrytonBuilder, w: _World) -> Section:
    full = world.invoice(customer=w.customer, lines=[(w.kettle, 2)])
    redo = world.invoice(customer=w.customer, lines=[(w.blender, 1)])
    paid = world.invoice(customer=w.customer, lines=[(w.kettle, 3)], paid=True)
    refunds, ticket = app.refunds, w.ticket_id

    def offered(invoice: Invoice) -> str:
        return ", ".join(m.value for m in refunds.credit_methods(ticket, invoice.id, actor=AGENT))

    one = attrs.evolve(w.invoice.lines[0], quantity=Decimal(1))
    draft = refunds.reverse(ticket, w.invoice.id, lines=[one], actor=AGENT)
    partial = refunds.confirm(draft.credit_note.id, actor=AGENT)
    dropped = refunds.reverse(ticket, w.invoice.id, lines=[one], actor=AGENT).credit_note
    cancelled = refunds.cancel(dropped.id, actor=AGENT)
    results = [(CreditMethod.PARTIAL, partial)]
    for method, invoice in ((CreditMethod.FULL, full), (CreditMethod.FULL_AND_REINVOICE, redo)):
        results.append((method, refunds.reverse(ticket, invoice.id, method=method, actor=AGENT)))
    config = world.erp.config
    in_tryton = [
        (label, document.number or "draft", invoices.read_invoice(config, int(document.id)).state)
        for label, document in (
            ("invoice refunded FULL", full),
            ("its credit note", results[1][1].credit_note),
            ("cancelled draft", cancelled),
        )
    ]
    return Section(
        "Refunds: Tryton's credit notes (account.invoice.credit), numbered by Tryton",
        (
            f"Methods offered for {w.invoice.number}: {offered(w.invoice)}",
            f"Methods offered for {paid.number} (paid in Tryton): {offered(paid)}",
            f"A second PARTIAL draft of {w.invoice.number} was cancelled: it no longer counts.",
        ),
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
                [refund_row(method, result) for method, result in results],
            ),
            table(["in Tryton", "number", "Tryton state"], in_tryton),
        ),
    )


def _coupon(app: AfterSales, world: TrytonBuilder, w: _World) -> Section:
    program = world.coupon_program(
        name="10% after-sales apology",
        reward=Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10)),
    )
    return coupon_section(app, w.ticket_id, program.id, agent=AGENT, system=SYSTEM)


def _return(app: AfterSales, world: TrytonBuilder, w: _World) -> Section:
    world.delivery(customer=w.customer, lines=[(w.blender, 2), (w.kettle, 1)])
    return return_section(app, w.ticket_id, w.blender.id, actor=AGENT)
