"""Who may create, change and read repairs (AC-2, AC-3, AC-4, RP-12, G-1, G-2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.errors import AccessDenied, DatabaseLocked, NotFound, ServiceDisabled
from aftersales.models import (
    Actor,
    Group,
    InvoiceMethod,
    RepairState,
    Service,
    Subscription,
    SubscriptionState,
)
from aftersales.testing import Scenario, assert_unchanged
from tests.repairs_support import QUOTE, Kit


@pytest.fixture
def kit(app: AfterSales, backend: Any, scenario: Scenario, clock: FrozenClock) -> Kit:
    return Kit.build(app, backend, scenario, clock)


HELPDESK_ONLY = Actor(user_id="helpdesk-only", groups=frozenset({Group.HELPDESK_USER}))
MANAGER = Actor(user_id="manager", groups=frozenset({Group.HELPDESK_MANAGER}))
STOCK_ONLY = Actor(user_id="stock-only", groups=frozenset({Group.STOCK_USER}))
NOBODY = Actor(user_id="nobody")
PORTAL = Actor(user_id="portal-ana", groups=frozenset({Group.PORTAL}))

#: Every call that changes a repair: the state (and invoice method) a repair must be in for the
#: call to succeed, and the arguments it takes besides the repair and the actor.
CHANGES: dict[str, tuple[RepairState, InvoiceMethod, dict[str, object]]] = {
    "update": (RepairState.DRAFT, InvoiceMethod.NONE, {"quotation_notes": "x"}),
    "confirm": (RepairState.DRAFT, InvoiceMethod.NONE, {}),
    "start": (RepairState.CONFIRMED, InvoiceMethod.NONE, {}),
    "end": (RepairState.UNDER_REPAIR, InvoiceMethod.NONE, {}),
    "create_invoice": (RepairState.TO_INVOICE, InvoiceMethod.BEFORE_REPAIR, {}),
    "cancel": (RepairState.DRAFT, InvoiceMethod.NONE, {}),
    "reset_to_draft": (RepairState.CANCELLED, InvoiceMethod.NONE, {}),
    "delete": (RepairState.DRAFT, InvoiceMethod.NONE, {}),
}


def _change(kit: Kit, call: str, repair_id: str, actor: Actor) -> object:
    _state, _method, arguments = CHANGES[call]
    return getattr(kit.app.repairs, call)(repair_id, actor=actor, **arguments)


#: Actors without the repair rights, and the groups the refusal names as missing.
WITHOUT_RIGHTS = [
    (HELPDESK_ONLY, "stock_user"),
    (MANAGER, "stock_user"),
    (STOCK_ONLY, "helpdesk_user"),
    (NOBODY, "helpdesk_user, stock_user"),
]


# -- AC-2: helpdesk user + stock user to create and change -----------------------------------------


@pytest.mark.parametrize(("actor", "missing"), WITHOUT_RIGHTS)
def test_ac2_create_needs_helpdesk_and_stock_rights(kit: Kit, actor: Actor, missing: str) -> None:
    with pytest.raises(AccessDenied, match=f"^repair: .*{missing}$"), assert_unchanged(kit.backend):
        kit.app.repairs.create(kit.world.ticket.id, actor=actor)


@pytest.mark.parametrize("call", list(CHANGES))
@pytest.mark.parametrize(("actor", "missing"), WITHOUT_RIGHTS)
def test_ac2_rp12_changes_need_repair_rights(
    kit: Kit, call: str, actor: Actor, missing: str
) -> None:
    """AC-2, and RP-12: a helpdesk user who may read the repairs of a ticket may not change
    them without the stock group."""
    state, method, _arguments = CHANGES[call]
    repair = kit.in_state(state, method)
    with pytest.raises(AccessDenied, match=f"^repair: .*{missing}$"), assert_unchanged(kit.backend):
        _change(kit, call, repair.id, actor)
    _change(kit, call, repair.id, kit.agent)  # and the agent may


def test_ac2_the_system_actor_may_do_everything(kit: Kit) -> None:
    system = Actor.system()
    repair = kit.app.repairs.create(kit.world.ticket.id, actor=system)
    assert kit.app.repairs.confirm(repair.id, actor=system).state is RepairState.CONFIRMED


def test_g1_an_actor_is_required(kit: Kit) -> None:
    from aftersales.errors import InvalidInput

    with pytest.raises(InvalidInput, match="actor"), assert_unchanged(kit.backend):
        kit.app.repairs.create(kit.world.ticket.id, actor="agent")  # type: ignore[arg-type]


# -- RP-12: reading through the ticket -------------------------------------------------------------


def test_rp12_a_ticket_viewer_reads_the_linked_repairs(kit: Kit) -> None:
    repair = kit.create(quotation_notes=QUOTE)
    ticket = kit.world.ticket.id
    assert kit.app.repairs.repairs(ticket, actor=HELPDESK_ONLY) == (repair,)
    assert kit.app.repairs.repair(ticket, repair.id, actor=HELPDESK_ONLY) == repair
    assert QUOTE in kit.app.repairs.quotation(repair.id, actor=HELPDESK_ONLY, format="text")
    data = kit.app.repairs.quotation_data(repair.id, actor=HELPDESK_ONLY)
    assert data.reference == repair.reference
    view = kit.app.tickets.view(ticket, actor=HELPDESK_ONLY)
    assert view.counts.repairs == 1
    assert "Repair" not in view.actions  # may read, may not create


def test_rp12_only_through_the_ticket_it_is_linked_to(kit: Kit) -> None:
    repair = kit.create()
    other = kit.builder.ticket(team=kit.world.team, title="Other", customer=kit.world.customer)
    assert kit.app.repairs.repairs(other.id, actor=HELPDESK_ONLY) == ()
    with pytest.raises(NotFound, match="repair order"):
        kit.app.repairs.repair(other.id, repair.id, actor=HELPDESK_ONLY)


@pytest.mark.parametrize("actor", [STOCK_ONLY, NOBODY, PORTAL])
def test_rp12_reading_still_needs_to_see_the_ticket(kit: Kit, actor: Actor) -> None:
    repair = kit.create()
    with pytest.raises(AccessDenied, match=r"^read repair: .*helpdesk_user"):
        kit.app.repairs.repairs(kit.world.ticket.id, actor=actor)
    with pytest.raises(AccessDenied, match=r"^read repair: "):
        kit.app.repairs.repair(kit.world.ticket.id, repair.id, actor=actor)
    with pytest.raises(AccessDenied, match=r"^read repair: "):
        kit.app.repairs.quotation(repair.id, actor=actor)


# -- AC-3: members-only teams ----------------------------------------------------------------------


def test_ac3_members_only_team_hides_its_repairs(kit: Kit) -> None:
    repair = kit.create()
    team = attrs.evolve(kit.world.team, members_only=True, member_ids=frozenset({"agent"}))
    kit.builder.put(team)
    outsider = Actor(user_id="outsider", groups=kit.agent.groups)
    ticket = kit.world.ticket.id
    with pytest.raises(AccessDenied, match="restricted to its members"):
        kit.app.repairs.repairs(ticket, actor=outsider)
    with pytest.raises(AccessDenied, match="restricted to its members"):
        kit.app.repairs.quotation(repair.id, actor=outsider)
    with pytest.raises(AccessDenied, match="restricted"), assert_unchanged(kit.backend):
        kit.app.repairs.confirm(repair.id, actor=outsider)
    with pytest.raises(AccessDenied, match="restricted"), assert_unchanged(kit.backend):
        kit.app.repairs.create(ticket, actor=outsider)
    assert kit.app.repairs.confirm(repair.id, actor=kit.agent).state is RepairState.CONFIRMED


# -- G-2: service toggle and database lock ---------------------------------------------------------


def test_g2_repairs_service_must_be_on_to_change(kit: Kit) -> None:
    repair = kit.create()
    team = attrs.evolve(kit.world.team, services=kit.world.team.services - {Service.REPAIRS})
    kit.builder.put(team)
    with (
        pytest.raises(ServiceDisabled, match="repairs service is not enabled"),
        assert_unchanged(kit.backend),
    ):
        kit.create()
    with pytest.raises(ServiceDisabled), assert_unchanged(kit.backend):
        kit.app.repairs.confirm(repair.id, actor=kit.agent)
    # what exists stays readable on the ticket
    assert kit.app.repairs.repairs(kit.world.ticket.id, actor=kit.agent) == (repair,)


def test_g2_a_locked_database_refuses_changes(kit: Kit) -> None:
    repair = kit.create()
    expired = Subscription(
        state=SubscriptionState.TRIAL,
        trial_started_at=kit.clock.now() - timedelta(days=20),
        trial_ends_at=kit.clock.now() - timedelta(days=5),
    )

    def lock(_uow: Any) -> None:
        kit.app.hooks.subscription_save(expired)

    kit.app.runtime.write(lock)
    kit.app.subscription.status(actor=kit.agent)  # records the expiry once (ST-11)
    with pytest.raises(DatabaseLocked), assert_unchanged(kit.backend):
        kit.create()
    with pytest.raises(DatabaseLocked), assert_unchanged(kit.backend):
        kit.app.repairs.cancel(repair.id, actor=kit.agent)
