"""A host application's helpdesk over its own SQLAlchemy models, served to aftersales by a
small plugin (the example of docs/embedding.md, kept in step with it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from aftersales import hookimpl
from aftersales.models import Partner, Team, Ticket

# -- the host's own tables ----------------------------------------------------------------


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
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


# -- the plugin: the helpdesk port, read from those tables ---------------------------------


def _team(row: HostTeam) -> Team:
    return Team(id=str(row.id), name=row.name)


def _partner(row: HostCustomer) -> Partner:
    entity = row.company_id if row.company_id is not None else row.id
    return Partner(
        id=str(row.id),
        name=row.name,
        email=row.email,
        commercial_entity_id=str(entity),
    )


def _ticket(row: HostTicket) -> Ticket:
    opened = row.opened_at  # stored in UTC; SQLite gives it back without its zone
    return Ticket(
        id=str(row.id),
        ref=str(row.id),  # the number the host shows as #<id>
        title=row.subject,
        team_id=str(row.team_id),
        customer_id=None if row.customer_id is None else str(row.customer_id),
        created_at=opened if opened.tzinfo else opened.replace(tzinfo=UTC),
    )


def _key(value: str) -> int | None:
    return int(value) if value.isdigit() else None  # the host's ids are integers


class HostHelpdesk:
    """Serves teams, tickets and customers from the host's tables; stores nothing."""

    name = "host-helpdesk"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        with Session(self.engine) as session:
            key = _key(team_id)
            row = session.get(HostTeam, key) if key is not None else None
            return _team(row) if row is not None else None

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> Sequence[Team]:
        with Session(self.engine) as session:
            return [
                _team(row) for row in session.scalars(sa.select(HostTeam).order_by(HostTeam.id))
            ]

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        with Session(self.engine) as session:
            key = _key(ticket_id)
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
        with Session(self.engine) as session:
            key = _key(partner_id)
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
