"""Helpers for the refund tests: a small helpdesk desk and line builders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from aftersales import AfterSales, FrozenClock, Service
from aftersales.builder import Builder, InvoiceLineSpec
from aftersales.models import Invoice, InvoiceLine, Match, Money, Partner, Team, Ticket
from aftersales.testing import Actors

ACTORS = Actors()
AGENT = ACTORS.agent


def d(value: str | int) -> Decimal:
    return Decimal(value)


@attrs.frozen(kw_only=True)
class Desk:
    """One team, one customer, one ticket: the smallest world a refund needs."""

    app: AfterSales
    backend: Any
    clock: FrozenClock
    world: Builder
    customer: Partner
    team: Team
    ticket: Ticket

    def invoice(
        self,
        lines: Sequence[InvoiceLineSpec],
        *,
        paid: Decimal | bool = False,
        customer: Partner | None = None,
        **kwargs: Any,
    ) -> Invoice:
        return self.world.invoice(
            customer=customer or self.customer, lines=lines, paid=paid, **kwargs
        )

    def stored(self, invoice_id: str) -> Invoice:
        invoice: Invoice = self.backend.store.get("invoices", invoice_id)
        return invoice

    def matches(self, invoice_id: str) -> list[Match]:
        found: list[Match] = self.backend.store.by_index("matches", "invoice", invoice_id)
        return found


def make_desk(
    app: AfterSales,
    backend: Any,
    clock: FrozenClock,
    *,
    services: Iterable[Service] = (Service.REFUNDS,),
    with_customer: bool = True,
) -> Desk:
    world: Builder = backend.builder(clock)
    world.install("account", "sale_management", "helpdesk_sale", "helpdesk_account")
    customer = world.customer(name="Ana Pérez", email="ana@example.com")
    team = world.team(name="Support", services=services)
    ticket = world.ticket(
        team=team, title="Refund please", customer=customer if with_customer else None
    )
    return Desk(
        app=app,
        backend=backend,
        clock=clock,
        world=world,
        customer=customer,
        team=team,
        ticket=ticket,
    )


def line(
    price: str | int | Decimal,
    quantity: str | int = 1,
    *,
    currency: str = "EUR",
    taxes: Sequence[str] = (),
    description: str = "Credit",
    product_id: str | None = None,
) -> InvoiceLine:
    """A credit note line; ``taxes`` like ``"21%"``."""
    from aftersales.builder import parse_tax

    return InvoiceLine(
        description=description,
        quantity=Decimal(quantity),
        unit_price=Money.of(price, currency),
        taxes=tuple(parse_tax(t) for t in taxes),
        product_id=product_id,
    )


def money(amount: str | int, currency: str = "EUR") -> Money:
    return Money.of(amount, currency)
