"""Helpdesk records: teams with their after-sales toggles, tickets, links and the trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from aftersales.models._fields import (
    MAX_TEXT,
    aware,
    bool_field,
    enum_of,
    id_field,
    ids,
    optional,
    text,
    to_frozenset,
    to_tuple,
)

__all__ = [
    "DocumentKind",
    "DocumentLink",
    "Service",
    "Team",
    "TeamConfig",
    "Ticket",
    "TicketMessage",
]


class Service(StrEnum):
    """The five after-sales services a team can turn on (ST-1)."""

    REFUNDS = "refunds"
    COUPONS = "coupons"
    RETURNS = "returns"
    REPAIRS = "repairs"
    FIELD_SERVICE = "field_service"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class DocumentKind(StrEnum):
    """Kinds of documents linked to a ticket (the smart buttons)."""

    CREDIT_NOTE = "credit_note"
    INVOICE = "invoice"
    COUPON = "coupon"
    RETURN = "return"
    REPAIR = "repair"
    TASK = "task"


def _services(value: object) -> frozenset[Service]:
    items = value if isinstance(value, set | frozenset | tuple | list) else (value,)
    return frozenset(Service(item) for item in items)


@attrs.frozen(kw_only=True)
class Team:
    """A helpdesk team and its after-sales settings, as the services see it.

    The team itself (`id`, `name`, members) is the host helpdesk's; its after-sales
    settings are the library's (`TeamConfig`, kept by the after-sales store), and
    the typed facade (`aftersales.hooks.Hooks.get_team()`) puts the two together. The
    helpdesk port's `services` and `fsm_project_id` are not read.

    `services` holds the toggles that are on (all off by default, ST-1).
    `fsm_project_id` is the default field-service project of new tasks (ST-2).
    When `members_only` is set, only `member_ids` may see its tickets (AC-3).
    """

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    services: frozenset[Service] = attrs.field(converter=_services, factory=frozenset)
    fsm_project_id: str | None = attrs.field(default=None, validator=optional(id_field))
    member_ids: frozenset[str] = attrs.field(converter=to_frozenset, factory=frozenset)
    members_only: bool = attrs.field(default=False, validator=bool_field)

    def has(self, service: Service) -> bool:
        return service in self.services


@attrs.frozen(kw_only=True)
class TeamConfig:
    """The after-sales settings of team `team_id`, kept by the after-sales store.

    `services` holds the toggles that are on (ST-1); `fsm_project_id` is the default
    field-service project of new tasks (ST-2). A team without settings has every service
    off and no project.
    """

    team_id: str = attrs.field(validator=id_field)
    services: frozenset[Service] = attrs.field(converter=_services, factory=frozenset)
    fsm_project_id: str | None = attrs.field(default=None, validator=optional(id_field))

    @classmethod
    def of(cls, team: Team) -> TeamConfig:
        """The settings `team` shows."""
        return cls(team_id=team.id, services=team.services, fsm_project_id=team.fsm_project_id)

    def apply(self, team: Team) -> Team:
        """`team` (the host's) with these settings."""
        if team.services == self.services and team.fsm_project_id == self.fsm_project_id:
            return team
        return attrs.evolve(team, services=self.services, fsm_project_id=self.fsm_project_id)


@attrs.frozen(kw_only=True)
class Ticket:
    """A helpdesk ticket: who it is for, about which product and order, who follows it.

    `ref` is the human number shown as `#<ref>`.
    """

    id: str = attrs.field(validator=id_field)
    ref: str = attrs.field(validator=text(max_length=64))
    title: str = attrs.field(validator=text())
    team_id: str = attrs.field(validator=id_field)
    created_at: datetime = attrs.field(validator=aware)
    customer_id: str | None = attrs.field(default=None, validator=optional(id_field))
    product_id: str | None = attrs.field(default=None, validator=optional(id_field))
    sale_order_id: str | None = attrs.field(default=None, validator=optional(id_field))
    description: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    follower_ids: tuple[str, ...] = attrs.field(default=(), converter=to_tuple, validator=ids)


@attrs.frozen(kw_only=True)
class DocumentLink:
    """A document created from a ticket and linked to it (G-4)."""

    ticket_id: str = attrs.field(validator=id_field)
    kind: DocumentKind = attrs.field(validator=enum_of(DocumentKind))
    document_id: str = attrs.field(validator=id_field)
    created_at: datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class TicketMessage:
    """One entry of a ticket's trail (the chatter): who did what, with which document."""

    id: str = attrs.field(validator=id_field)
    ticket_id: str = attrs.field(validator=id_field)
    at: datetime = attrs.field(validator=aware)
    author_id: str = attrs.field(validator=id_field)
    body: str = attrs.field(validator=text(max_length=MAX_TEXT, multiline=True))
    document_kind: DocumentKind | None = attrs.field(
        default=None, validator=optional(enum_of(DocumentKind))
    )
    document_id: str | None = attrs.field(default=None, validator=optional(id_field))
