"""A standard world: what a helpdesk database holds before after-sales starts.

Every backend builds it through its `Builder`, so the same
scenario runs on the memory backend, the SQL backends and a third-party ERP.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from aftersales.builder import Builder
from aftersales.models import (
    Actor,
    CouponProgram,
    Group,
    Invoice,
    Partner,
    Picking,
    Product,
    ProductKind,
    Project,
    RewardKind,
    SaleOrder,
    Service,
    Team,
    Ticket,
)
from aftersales.models.loyalty import Reward

__all__ = ["ALL_SERVICE_MODULES", "Actors", "Scenario", "build_scenario"]


MANAGER = Actor(user_id="manager", groups=frozenset({Group.HELPDESK_MANAGER}))
AGENT = Actor(
    user_id="agent",
    groups=frozenset(
        {Group.HELPDESK_USER, Group.BILLING, Group.STOCK_USER, Group.FIELD_SERVICE_USER}
    ),
)
HELPDESK_ONLY = Actor(user_id="helpdesk-only", groups=frozenset({Group.HELPDESK_USER}))
SYSTEM = Actor.system()
NOBODY = Actor(user_id="nobody", groups=frozenset())


@attrs.frozen(kw_only=True)
class Actors:
    """The users of the scenario, one per role of access.md."""

    manager: Actor = MANAGER
    agent: Actor = AGENT
    helpdesk_only: Actor = HELPDESK_ONLY
    system: Actor = SYSTEM
    nobody: Actor = NOBODY


@attrs.frozen(kw_only=True)
class Scenario:
    """Records of the standard world, by role."""

    company: Partner
    customer: Partner
    colleague: Partner
    other_customer: Partner
    follower: Partner
    blender: Product
    kettle: Product
    repair_service: Product
    order: SaleOrder
    invoice: Invoice
    paid_invoice: Invoice
    delivery: Picking
    program: CouponProgram
    project: Project
    team: Team
    ticket: Ticket
    actors: Actors = attrs.field(factory=Actors)


#: The modules of every after-sales service (ST-3), dependencies first.
ALL_SERVICE_MODULES = (
    "account",
    "sale_management",
    "helpdesk_sale",
    "helpdesk_account",
    "stock",
    "helpdesk_stock",
    "helpdesk_stock_account",
    "repair",
    "helpdesk_repair",
    "sale_loyalty",
    "helpdesk_sale_loyalty",
    "project",
    "project_helpdesk",
    "industry_fsm",
    "helpdesk_fsm",
)


def build_scenario(
    world: Builder,
    *,
    services: frozenset[Service] = frozenset(Service),
    install_modules: bool = True,
) -> Scenario:
    """Build the standard world; the team has `services` on (all by default).

    With `install_modules` (the default) the modules of every service are marked
    installed, so no trial starts; without it only the base and the helpdesk are, as on a
    new One-App-Free database.
    """
    if install_modules:
        world.install(*ALL_SERVICE_MODULES)
    company = world.company(name="Pérez Hogar S.L.", email="compras@perez.example")
    customer = world.customer(
        name="Ana Pérez", email="ana@perez.example", company=company, delivery_address=True
    )
    colleague = world.customer(name="Luis Pérez", email="luis@perez.example", company=company)
    other = world.customer(name="Otro Cliente", email="otro@example.com")
    follower = world.customer(name="Marta Seguidora", email="marta@example.com")
    blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
    repair_service = world.product(
        name="Repair labour", price=Decimal("30.00"), taxes=("21%",), kind=ProductKind.SERVICE
    )
    order = world.sale_order(customer=customer)
    invoice = world.invoice(customer=customer, lines=[(blender, 2), (kettle, 1)], sale_order=order)
    paid = world.invoice(customer=customer, lines=[(kettle, 3)], paid=True)
    delivery = world.delivery(
        customer=customer, lines=[(blender, 2), (kettle, 1)], sale_order=order
    )
    program = world.coupon_program(
        name="10% after-sales apology",
        reward=Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10)),
    )
    project = world.project(name="Field Service", fsm=True, portal_visible=True)
    team = world.team(name="Support", services=services, fsm_project=project)
    ticket = world.ticket(
        team=team,
        title="Blender broken",
        customer=customer,
        product=blender,
        sale_order=order,
        followers=[customer, follower],
        description="The blender stopped after a week.",
    )
    return Scenario(
        company=company,
        customer=customer,
        colleague=colleague,
        other_customer=other,
        follower=follower,
        blender=blender,
        kettle=kettle,
        repair_service=repair_service,
        order=order,
        invoice=invoice,
        paid_invoice=paid,
        delivery=delivery,
        program=program,
        project=project,
        team=team,
        ticket=ticket,
    )
