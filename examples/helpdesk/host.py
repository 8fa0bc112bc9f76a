"""The helpdesk's own database (teams, customers, tickets) and the plugin serving it to
aftersales through the helpdesk port; the SQL backend is the ERP and the after-sales store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from aftersales import AfterSales, hookimpl
from aftersales.backends.sql import SqlBackend
from aftersales.clock import Clock, FrozenClock
from aftersales.models import Partner, ProductKind, Service, Team, Ticket
from aftersales.testing.scenario import ALL_SERVICE_MODULES, MANAGER


class Base(DeclarativeBase):
    pass


class HostTeam(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class HostCustomer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    email: Mapped[str | None]
    company_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))


class HostTicket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str]
    description: Mapped[str] = mapped_column(default="")
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # references to the ERP's records, as the helpdesk's form holds them
    product_id: Mapped[str | None]
    sale_order_id: Mapped[str | None]


class HostCatalogue(Base):
    """The ERP products the helpdesk's forms offer (a product picker of the host's)."""

    __tablename__ = "catalogue"
    product_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]


def catalogue(helpdesk: Helpdesk) -> list[tuple[str, str]]:
    """The products the forms offer: (id, name)."""
    with Session(helpdesk.engine) as session:
        rows = session.scalars(sa.select(HostCatalogue).order_by(HostCatalogue.name))
        return [(row.product_id, row.name) for row in rows]


def _key(value: str) -> int | None:
    return int(value) if value.isdigit() else None  # the host's ids are integers


def _team(row: HostTeam) -> Team:
    return Team(id=str(row.id), name=row.name)


def _partner(row: HostCustomer) -> Partner:
    entity = row.company_id if row.company_id is not None else row.id
    return Partner(id=str(row.id), name=row.name, email=row.email, commercial_entity_id=str(entity))


def _ticket(row: HostTicket) -> Ticket:
    opened = row.opened_at  # stored in UTC; SQLite gives it back without its zone
    return Ticket(
        id=str(row.id),
        ref=str(row.id),
        title=row.subject,
        description=row.description,
        team_id=str(row.team_id),
        customer_id=None if row.customer_id is None else str(row.customer_id),
        product_id=row.product_id,
        sale_order_id=row.sale_order_id,
        created_at=opened if opened.tzinfo else opened.replace(tzinfo=UTC),
    )


class HostHelpdesk:
    """Serves teams, tickets and customers from the helpdesk's tables; stores nothing."""

    name = "host-helpdesk"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        key = _key(team_id)
        with Session(self.engine) as session:
            row = session.get(HostTeam, key) if key is not None else None
            return _team(row) if row is not None else None

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> Sequence[Team]:
        with Session(self.engine) as session:
            return [_team(r) for r in session.scalars(sa.select(HostTeam).order_by(HostTeam.id))]

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        key = _key(ticket_id)
        with Session(self.engine) as session:
            row = session.get(HostTicket, key) if key is not None else None
            return _ticket(row) if row is not None else None

    @hookimpl
    def aftersales_helpdesk_find_ticket(self, ref: str) -> Ticket | None:
        return self.aftersales_helpdesk_get_ticket(ref)

    @hookimpl
    def aftersales_helpdesk_find_tickets(self, customer_ids: frozenset[str]) -> Sequence[Ticket]:
        keys = [key for key in map(_key, customer_ids) if key is not None]
        with Session(self.engine) as session:
            rows = session.scalars(
                sa.select(HostTicket)
                .where(HostTicket.customer_id.in_(keys))
                .order_by(HostTicket.opened_at.desc(), HostTicket.id.desc())
            )
            return [_ticket(row) for row in rows]

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        key = _key(partner_id)
        with Session(self.engine) as session:
            row = session.get(HostCustomer, key) if key is not None else None
            return _partner(row) if row is not None else None

    @hookimpl
    def aftersales_helpdesk_list_contacts(self, commercial_entity_id: str) -> Sequence[Partner]:
        key = _key(commercial_entity_id)
        with Session(self.engine) as session:
            rows = session.scalars(
                sa.select(HostCustomer)
                .where(sa.or_(HostCustomer.id == key, HostCustomer.company_id == key))
                .order_by(HostCustomer.id)
            )
            return [_partner(row) for row in rows]


#: When the demo data is dated; the app's clock starts there unless told otherwise.
DEMO_START = "2026-11-28T09:00:00+00:00"


@attrs.frozen(kw_only=True)
class Helpdesk:
    """The running pieces: the helpdesk's engine, the after-sales store and the app."""

    engine: sa.Engine
    backend: SqlBackend
    app: AfterSales

    def close(self) -> None:
        self.backend.close()
        self.engine.dispose()


def open_helpdesk(folder: Path, clock: Clock | None = None) -> Helpdesk:
    """Open (and seed on first use) the helpdesk's database and the after-sales store in
    `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    fresh = not (folder / "helpdesk.db").exists()
    engine = sa.create_engine(f"sqlite:///{folder / 'helpdesk.db'}")
    backend = SqlBackend(folder / "aftersales.db")
    clock = clock or FrozenClock(DEMO_START)
    project_id = None
    if fresh:
        Base.metadata.create_all(engine)
        project_id = _seed(engine, backend, clock)
    app = AfterSales(backend, clock=clock, plugins=[HostHelpdesk(engine)])
    if project_id is not None:
        app.settings.configure(
            "1",
            enable={Service.REFUNDS, Service.COUPONS, Service.RETURNS, Service.FIELD_SERVICE},
            fsm_project_id=project_id,
            actor=MANAGER,
        )
    return Helpdesk(engine=engine, backend=backend, app=app)


def _seed(engine: sa.Engine, backend: SqlBackend, clock: Clock) -> str:
    """Seed the demo data; returns the field-service project's id."""
    world = backend.builder(clock)
    # every module but the repairs': enabling repairs on a team starts the trial
    world.install(*(m for m in ALL_SERVICE_MODULES if "repair" not in m))
    ana = Partner(id="2", name="Ana Pérez", email="ana@perez.example", commercial_entity_id="1")
    blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
    motor = world.product(name="Motor", price=Decimal("12.00"), taxes=("21%",))
    labour = world.product(
        name="Repair labour", price=Decimal("30.00"), taxes=("21%",), kind=ProductKind.SERVICE
    )
    order = world.sale_order(customer=ana)
    world.invoice(customer=ana, lines=[(blender, 2), (kettle, 1)], sale_order=order)
    world.invoice(customer=ana, lines=[(blender, 1)], sale_order=order, paid=True)
    world.delivery(customer=ana, lines=[(blender, 2), (kettle, 1)], sale_order=order)
    world.coupon_program(name="10% after-sales apology")
    project = world.project(name="Field Service", fsm=True, portal_visible=True)
    opened = clock.now() - timedelta(days=1)
    with Session(engine) as session:
        session.add_all(
            [
                HostTeam(id=1, name="Support"),
                HostCustomer(id=1, name="Pérez Hogar S.L.", email="compras@perez.example"),
                HostCustomer(id=2, name="Ana Pérez", email="ana@perez.example", company_id=1),
                HostCustomer(id=3, name="Luis Pérez", email="luis@perez.example", company_id=1),
            ]
        )
        session.add_all(
            HostCatalogue(product_id=p.id, name=p.name) for p in (blender, kettle, motor, labour)
        )
        session.flush()
        session.add(
            HostTicket(
                id=1,
                subject="Blender broken",
                description="The blender stopped after a week.",
                team_id=1,
                customer_id=2,
                opened_at=opened,
                product_id=blender.id,
                sale_order_id=order.id,
            )
        )
        session.commit()
    return project.id
