"""Rights (AC-2) and the guard every service call goes through (G-1, G-2, AC-3, AC-4)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs

from aftersales.arguments import an_actor, an_id
from aftersales.clock import Clock
from aftersales.errors import AccessDenied, DatabaseLocked, NotFound, ServiceDisabled
from aftersales.formatting import show
from aftersales.hooks import Hooks
from aftersales.models import Actor, Group, Service, Team, Ticket

__all__ = ["RIGHTS", "Action", "Guard", "TicketContext"]


class Action(StrEnum):
    """What a call does, as named in refusals (AC-2)."""

    SUBSCRIPTION = "read the subscription"
    CONFIGURE = "configure team after-sales"
    REGISTER_SUBSCRIPTION = "register a paid subscription"
    REFUND = "refund"
    READ_INVOICE = "read invoice"
    COUPON = "coupon"
    RETURN = "return"
    READ_RETURN = "read return"
    REPAIR = "repair"
    READ_REPAIR = "read repair"
    FIELD_SERVICE = "field-service task"
    VIEW_TICKET = "view ticket"
    PORTAL = "portal"
    OUTBOX = "outgoing email"
    PURGE_KEYS = "purge idempotency keys"
    IMPORT = "import documents"


#: The groups each action needs (AC-2).
RIGHTS: Mapping[Action, frozenset[Group]] = {
    Action.SUBSCRIPTION: frozenset(),  # any actor, also while locked (ST-9)
    Action.CONFIGURE: frozenset({Group.HELPDESK_MANAGER}),
    Action.REGISTER_SUBSCRIPTION: frozenset({Group.SYSTEM}),
    Action.REFUND: frozenset({Group.HELPDESK_USER, Group.BILLING}),
    Action.READ_INVOICE: frozenset({Group.HELPDESK_USER, Group.BILLING}),
    Action.COUPON: frozenset({Group.HELPDESK_USER}),
    Action.RETURN: frozenset({Group.HELPDESK_USER, Group.STOCK_USER}),
    Action.READ_RETURN: frozenset({Group.HELPDESK_USER, Group.STOCK_USER}),
    Action.REPAIR: frozenset({Group.HELPDESK_USER, Group.STOCK_USER}),
    Action.READ_REPAIR: frozenset({Group.HELPDESK_USER}),
    Action.FIELD_SERVICE: frozenset({Group.HELPDESK_USER, Group.FIELD_SERVICE_USER}),
    Action.VIEW_TICKET: frozenset({Group.HELPDESK_USER}),
    Action.PORTAL: frozenset({Group.PORTAL}),
    Action.OUTBOX: frozenset({Group.HELPDESK_MANAGER}),
    Action.PURGE_KEYS: frozenset({Group.SYSTEM}),
    Action.IMPORT: frozenset({Group.SYSTEM}),
}


@attrs.frozen
class TicketContext:
    """A ticket the actor may act on, with its team."""

    ticket: Ticket
    team: Team


class Guard:
    """Checks rights, the database lock, ticket visibility and the service toggle."""

    def __init__(self, hooks: Hooks, clock: Clock) -> None:
        self._hooks = hooks
        self._clock = clock

    def rights(self, actor: Actor, action: Action) -> None:
        """Raise [`AccessDenied`][aftersales.errors.AccessDenied] naming the missing groups
        (AC-4).
        """
        an_actor(actor)
        if Group.SYSTEM in actor.groups:
            return
        missing = RIGHTS[action] - actor.effective_groups
        if missing:
            names = ", ".join(sorted(g.value for g in missing))
            raise AccessDenied(
                action.value, f"user {show(actor.user_id)} is not in group(s): {names}"
            )

    def unlocked(self) -> None:
        """Raise [`DatabaseLocked`][aftersales.errors.DatabaseLocked], with the date the trial
        ended, when it has run out without a paid subscription (ST-9)."""
        now = self._clock.now()
        subscription = self._hooks.subscription_get()
        if subscription.is_expired_at(now):
            raise DatabaseLocked(subscription.trial_ends_at or subscription.changed_at or now)

    def may_see(self, actor: Actor, team: Team) -> bool:
        """AC-3: a members-only team's tickets are for its members (and the system)."""
        return (
            not team.members_only
            or Group.SYSTEM in actor.groups
            or actor.user_id in team.member_ids
        )

    def team(self, actor: Actor, action: Action, team_id: str) -> Team:
        """The team, which the actor must be allowed to see (after rights and lock)."""
        an_id(team_id, "team_id")
        team = self._hooks.get_team(team_id)
        if not self.may_see(actor, team):
            raise AccessDenied(
                action.value,
                f"team {show(team.name)} is restricted to its members",
                kind="team",
                id=team.id,
            )
        return team

    def ticket(
        self, actor: Actor, action: Action, ticket_id: str, service: Service | None = None
    ) -> TicketContext:
        """What a call on a ticket checks after rights and lock, in order: the ticket, its
        team's visibility, the service toggle (G-1, G-2, AC-3)."""
        an_id(ticket_id, "ticket_id")
        ticket = self._hooks.get_ticket(ticket_id)
        team = self._hooks.get_team(ticket.team_id)
        if not self.may_see(actor, team):
            raise AccessDenied(
                action.value,
                f"ticket #{ticket.ref} belongs to team {show(team.name)}, "
                "restricted to its members",
                kind="ticket",
                id=ticket.id,
            )
        if service is not None and not team.has(service):
            raise ServiceDisabled(team.name, service.label)
        return TicketContext(ticket=ticket, team=team)

    def portal_ticket(self, actor: Actor, ticket_id: str) -> Ticket:
        """A ticket of the portal actor's own commercial entity, else
        [`NotFound`][aftersales.errors.NotFound] (AC-4).
        """
        if actor.partner_id is None:
            raise AccessDenied(Action.PORTAL.value, "a portal user needs a partner_id")
        ticket = self._hooks.get_ticket(an_id(ticket_id, "ticket_id"))
        if ticket.customer_id is None or not self.same_entity(actor.partner_id, ticket.customer_id):
            raise NotFound("ticket", ticket_id)
        return ticket

    def same_entity(self, partner_a: str, partner_b: str) -> bool:
        a = self._hooks.get_partner(partner_a)
        if partner_b == partner_a:  # one partner: one lookup
            return True
        b = self._hooks.get_partner(partner_b)
        return a.commercial_entity_id == b.commercial_entity_id
