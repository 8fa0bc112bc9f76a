"""Test data as a protocol: the records an ERP already holds, created the same way everywhere.

Every backend offers `backend.builder()` returning a `Builder`. The conformance kit,
the demo and the tests set up their world through it, so one scenario runs on every backend.
`Builder` builds the records; a backend only says how to store one
(`Builder.put()`, and optionally many at once: `Builder.put_many()`) and how to draw
a sequence number (`Builder.next_number()`).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from aftersales.clock import Clock, SystemClock
from aftersales.erp.accounting import pay
from aftersales.errors import InvalidInput
from aftersales.ids import new_id
from aftersales.models import (
    CouponProgram,
    CouponRule,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    MoveState,
    Partner,
    Payment,
    Picking,
    PickingKind,
    PickingState,
    Product,
    ProductKind,
    ProgramTrigger,
    ProgramType,
    Project,
    Reward,
    RewardKind,
    SaleOrder,
    Service,
    StockMove,
    Tax,
    Team,
    Ticket,
)

__all__ = ["Builder", "InvoiceLineSpec", "parse_tax"]

#: `(product, quantity)` or `(product, quantity, unit price)`.
InvoiceLineSpec = tuple[Product, Decimal | int] | tuple[Product, Decimal | int, Decimal]

_TAX = re.compile(r"^(\d+(?:\.\d+)?)\s*%(\s*incl(?:uded)?)?$")


def parse_tax(spec: str | Tax) -> Tax:
    """`"21%"` → 21 % excluded from the price; `"10% incl"` → included."""
    if isinstance(spec, Tax):
        return spec
    match = _TAX.match(spec.strip())
    if not match:
        raise InvalidInput("taxes", spec, 'expected a Tax or text like "21%" or "10% incl"')
    return Tax(
        name=spec.strip(), percent=Decimal(match.group(1)), price_include=bool(match.group(2))
    )


class Builder(abc.ABC):
    """Builds consistent records of the data an ERP already holds.

    A backend subclasses it and says how to store a record (`put()`), draw a sequence
    number (`next_number()`) and mark modules installed (`install()`). An ERP backend
    may instead override any method to create the record through the ERP's own API.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()

    # -- what a backend provides -----------------------------------------------------------

    @abc.abstractmethod
    def put(self, record: object) -> None:
        """Store one record (a Partner, Product, Invoice, Payment, Match, Picking, …).

        A `Team` carries its after-sales settings: store the
        host's team and, for the after-sales store, its
        `TeamConfig` (`TeamConfig.of(team)`, kept by
        `team_id`, replacing the one there was)."""

    def put_many(self, records: Iterable[object]) -> None:
        """Store several records, as `put()` each in order would.

        For loading many records at once (a benchmark's 100,000 invoices): a backend that
        can store them in bulk overrides it (the SQL builder runs one `executemany` per
        table); the default calls `put()` for each record.
        """
        for record in records:
            self.put(record)

    @abc.abstractmethod
    def next_number(self, code: str) -> int:
        """The next number of sequence `code` (shared with the services' sequences)."""

    @abc.abstractmethod
    def install(self, *modules: str) -> None:
        """Mark `modules` as installed, without starting any trial."""

    # -- helpers ---------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        # Unique across builders: several builders may write into one store.
        return new_id(prefix)

    def _now(self) -> datetime:
        return self.clock.now()

    # -- records ---------------------------------------------------------------------------

    def company(self, *, name: str, email: str | None = None) -> Partner:
        pid = self._id("partner")
        partner = Partner(id=pid, name=name, email=email, commercial_entity_id=pid, is_company=True)
        self.put(partner)
        return partner

    def customer(
        self,
        *,
        name: str,
        email: str | None = None,
        company: Partner | None = None,
        delivery_address: bool = False,
    ) -> Partner:
        pid = self._id("partner")
        entity = company.commercial_entity_id if company else pid
        address_id = None
        if delivery_address:
            address = Partner(
                id=self._id("partner"),
                name=f"{name} (delivery address)",
                email=email,
                commercial_entity_id=entity,
            )
            self.put(address)
            address_id = address.id
        partner = Partner(
            id=pid,
            name=name,
            email=email,
            commercial_entity_id=entity,
            delivery_address_id=address_id,
        )
        self.put(partner)
        return partner

    def product(
        self,
        *,
        name: str,
        price: Decimal,
        currency: str = "EUR",
        taxes: Iterable[str | Tax] = (),
        kind: ProductKind = ProductKind.STORABLE,
        uom: str = "Units",
        uom_digits: int = 0,
    ) -> Product:
        product = Product(
            id=self._id("product"),
            name=name,
            kind=kind,
            price=Money(amount=price, currency=currency),
            taxes=tuple(parse_tax(t) for t in taxes),
            uom=uom,
            uom_digits=uom_digits,
        )
        self.put(product)
        return product

    def sale_order(self, *, customer: Partner, name: str | None = None) -> SaleOrder:
        number = self.next_number("SO")
        order = SaleOrder(
            id=self._id("so"),
            name=name or f"S{number:05d}",
            customer_id=customer.id,
            ordered_at=self._now(),
        )
        self.put(order)
        return order

    def invoice(
        self,
        *,
        customer: Partner,
        lines: Sequence[InvoiceLineSpec],
        posted: bool = True,
        paid: Decimal | bool = False,
        currency: str | None = None,
        sale_order: SaleOrder | None = None,
        invoice_date: date | None = None,
    ) -> Invoice:
        """A customer invoice; `paid=True` pays it in full, a Decimal pays that much."""
        if not lines:
            raise InvalidInput("lines", lines, "an invoice needs at least one line")
        cur = currency or lines[0][0].price.currency
        invoice_lines = tuple(self._line(spec, cur) for spec in lines)
        now = self._now()
        day = invoice_date or now.date()
        invoice = Invoice(
            id=self._id("inv"),
            kind=InvoiceKind.INVOICE,
            customer_id=customer.id,
            currency=cur,
            lines=invoice_lines,
            state=InvoiceState.POSTED if posted else InvoiceState.DRAFT,
            created_at=now,
            invoice_date=day if posted else invoice_date,
            number=f"INV/{day.year}/{self.next_number(f'INV/{day.year}'):05d}" if posted else None,
            sale_order_id=sale_order.id if sale_order else None,
        )
        if paid is not False:
            if not posted:
                raise InvalidInput("paid", paid, "only a posted invoice can be paid")
            amount = invoice.total if paid is True else Money(amount=paid, currency=cur)
            invoice = self._pay(invoice, amount)
        self.put(invoice)
        return invoice

    def _line(self, spec: InvoiceLineSpec, currency: str) -> InvoiceLine:
        product, quantity = spec[0], spec[1]
        price = Money(amount=spec[2], currency=currency) if len(spec) == 3 else product.price
        if price.currency != currency:
            price = Money(amount=price.amount, currency=currency)
        return InvoiceLine(
            description=product.name,
            quantity=Decimal(quantity),
            unit_price=price,
            taxes=product.taxes,
            product_id=product.id,
        )

    def _pay(self, invoice: Invoice, amount: Money) -> Invoice:
        if not Money.zero(invoice.currency) < amount <= invoice.residual:
            raise InvalidInput(
                "paid", amount, f"must be more than 0 and at most {invoice.residual}"
            )
        payment = Payment(
            id=self._id("pay"),
            customer_id=invoice.customer_id,
            amount=amount,
            paid_at=self._now(),
            reference=f"Payment of {invoice.number}",
        )
        self.put(payment)
        paid, matches = pay(invoice, [payment], self._now(), self._id)
        for match in matches:
            self.put(match)
        return paid

    def delivery(
        self,
        *,
        customer: Partner,
        lines: Sequence[tuple[Product, Decimal | int]],
        done: bool = True,
        sale_order: SaleOrder | None = None,
    ) -> Picking:
        if not lines:
            raise InvalidInput("lines", lines, "a delivery needs at least one line")
        now = self._now()
        moves = tuple(
            StockMove(
                id=self._id("move"),
                product_id=product.id,
                quantity=Decimal(quantity),
                state=MoveState.DONE if done else MoveState.CONFIRMED,
            )
            for product, quantity in lines
        )
        picking = Picking(
            id=self._id("pick"),
            kind=PickingKind.DELIVERY,
            reference=f"WH/OUT/{self.next_number('WH/OUT'):05d}",
            partner_id=customer.id,
            source_location="WH/Stock",
            destination_location="Partners/Customers",
            state=PickingState.DONE if done else PickingState.READY,
            moves=moves,
            created_at=now,
            done_at=now if done else None,
            origin=sale_order.name if sale_order else "",
            sale_order_id=sale_order.id if sale_order else None,
        )
        self.put(picking)
        return picking

    def coupon_program(
        self,
        *,
        name: str,
        reward: Reward | None = None,
        rules: Sequence[CouponRule] = (),
        currency: str = "EUR",
        active: bool = True,
        date_to: date | None = None,
        max_usage: int | None = None,
        code: str | None = None,
        program_type: ProgramType = ProgramType.COUPONS,
        trigger: ProgramTrigger = ProgramTrigger.CODE,
    ) -> CouponProgram:
        program = CouponProgram(
            id=self._id("program"),
            name=name,
            currency=currency,
            rewards=(reward or Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10)),),
            rules=tuple(rules),
            active=active,
            date_to=date_to,
            max_usage=max_usage,
            code=code,
            program_type=program_type,
            trigger=trigger,
        )
        self.put(program)
        return program

    def project(self, *, name: str, fsm: bool = True, portal_visible: bool = True) -> Project:
        project = Project(
            id=self._id("project"), name=name, is_fsm=fsm, portal_visible=portal_visible
        )
        self.put(project)
        return project

    def team(
        self,
        *,
        name: str,
        services: Iterable[Service] = (),
        fsm_project: Project | None = None,
        members: Iterable[str] = (),
        members_only: bool = False,
    ) -> Team:
        team = Team(
            id=self._id("team"),
            name=name,
            services=frozenset(services),
            fsm_project_id=fsm_project.id if fsm_project else None,
            member_ids=frozenset(members),
            members_only=members_only,
        )
        self.put(team)
        return team

    def ticket(
        self,
        *,
        team: Team,
        title: str,
        customer: Partner | None = None,
        product: Product | None = None,
        sale_order: SaleOrder | None = None,
        followers: Iterable[Partner] = (),
        description: str = "",
    ) -> Ticket:
        number = self.next_number("TICKET")
        ticket = Ticket(
            id=self._id("ticket"),
            ref=str(number),
            title=title,
            team_id=team.id,
            created_at=self._now(),
            customer_id=customer.id if customer else None,
            product_id=product.id if product else None,
            sale_order_id=sale_order.id if sale_order else None,
            description=description,
            follower_ids=tuple(f.id for f in followers),
        )
        self.put(ticket)
        return ticket

    def later(self, **delta: float) -> datetime:
        """A moment after now, for data that must sort as newer."""
        return self._now() + timedelta(**delta)
