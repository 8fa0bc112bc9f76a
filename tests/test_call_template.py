"""Every public service call checks in one order, by construction (G-1, ST-9, AC-3).

The walk below finds the public methods of every service of the application, so a call
added later is checked too: for an actor without groups each one is refused with
``AccessDenied`` before anything else (even before its arguments are looked at), and on a
locked database each one is refused with ``DatabaseLocked`` before its target or
arguments — except the two calls that must work while locked (ST-9).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales
from aftersales.errors import AccessDenied, DatabaseLocked, ServiceDisabled
from aftersales.models import (
    Actor,
    Group,
    Money,
    Order,
    OrderLine,
    Service,
    SubscriptionState,
)
from aftersales.testing import Scenario, assert_unchanged
from aftersales.testing.scenario import AGENT, NOBODY, SYSTEM
from tests.reliability.hostile import public_calls

#: Calls any actor may make (the subscription's state is shown to everyone).
ANY_ACTOR = {"subscription.status"}
#: Calls that work while the database is locked (ST-9).
WHILE_LOCKED = {"subscription.status", "subscription.register_paid"}


CALLS = sorted(public_calls(AfterSales("memory")))


def _junk_call(app: AfterSales, call: str, actor: Actor) -> Callable[[], object]:
    """``call`` with ``"nope"`` for every required argument: whatever it checks first
    must refuse before any of them is looked at."""
    service, name = call.split(".")
    method = getattr(getattr(app, service), name)
    args: list[Any] = []
    kwargs: dict[str, Any] = {"actor": actor}
    for parameter in inspect.signature(method).parameters.values():
        if parameter.name == "actor" or parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = "nope"
        else:
            args.append("nope")
    return lambda: method(*args, **kwargs)


def _lock(app: AfterSales) -> None:
    """Put the database at the end of a trial that ran out yesterday."""
    now = app.clock.now()
    with app.runtime.unit(writes=True) as uow:
        current = app.hooks.subscription_get()
        app.hooks.subscription_save(
            attrs.evolve(
                current,
                state=SubscriptionState.EXPIRED,
                trial_started_at=now - timedelta(days=16),
                trial_ends_at=now - timedelta(days=1),
                changed_at=now - timedelta(days=1),
            )
        )
        uow.commit()


def test_the_walk_finds_every_service_call() -> None:
    assert len(CALLS) >= 40
    assert {"refunds.reverse", "coupons.redeem", "outbox.emails", "settings.uninstall"} <= set(
        CALLS
    )


@pytest.mark.parametrize("call", [c for c in CALLS if c not in ANY_ACTOR])
def test_g1_rights_come_first(app: AfterSales, backend: Any, scenario: Scenario, call: str) -> None:
    with pytest.raises(AccessDenied, match="is not in group"), assert_unchanged(backend):
        _junk_call(app, call, NOBODY)()


@pytest.mark.parametrize("call", [c for c in CALLS if c not in WHILE_LOCKED])
def test_st9_the_lock_comes_before_the_target_and_arguments(
    app: AfterSales, backend: Any, scenario: Scenario, call: str
) -> None:
    _lock(app)
    with pytest.raises(DatabaseLocked), assert_unchanged(backend):
        _junk_call(app, call, SYSTEM)()


def test_st9_the_outbox_is_not_read_while_locked(app: AfterSales, scenario: Scenario) -> None:
    assert app.outbox.emails(actor=SYSTEM) == ()
    _lock(app)
    with pytest.raises(DatabaseLocked):
        app.outbox.emails(actor=SYSTEM)
    with pytest.raises(DatabaseLocked):
        app.outbox.retry(actor=SYSTEM)


@pytest.mark.parametrize(
    "call",
    [
        lambda app, sc: app.refunds.reverse(sc.ticket.id, "?", method="?", actor=NOBODY),
        lambda app, sc: app.settings.configure(sc.team.id, enable={"?"}, actor=NOBODY),
        lambda app, sc: app.returns.create(sc.ticket.id, "?", {"?": Decimal(-1)}, actor=NOBODY),
        lambda app, sc: app.field_service.create_task(sc.ticket.id, title=" ", actor=NOBODY),
    ],
    ids=["refunds.reverse", "settings.configure", "returns.create", "field_service.create_task"],
)
def test_g1_bad_arguments_from_an_actor_without_rights_are_access_denied(
    app: AfterSales, backend: Any, scenario: Scenario, call: Callable[..., object]
) -> None:
    with pytest.raises(AccessDenied), assert_unchanged(backend):
        call(app, scenario)


def test_g1_the_toggle_comes_before_the_arguments(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    app.settings.configure(scenario.team.id, disable={Service.REFUNDS}, actor=SYSTEM)
    with pytest.raises(ServiceDisabled, match="refunds service is not enabled"):
        app.refunds.reverse(scenario.ticket.id, "?", method="?", actor=AGENT)


# -- AC-3 for calls that find their ticket through a document ---------------------------------

_ORDER = Order.of(OrderLine(quantity=Decimal(1), unit_price=Money.of("100.00", "EUR")))


@pytest.fixture
def members_only(app: AfterSales, scenario: Scenario) -> str:
    """The scenario's team restricted to one other member; returns a coupon code of its ticket."""
    coupon = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=AGENT)
    team = app.hooks.get_team(scenario.team.id)
    with app.runtime.unit(writes=True) as uow:
        app.hooks.save_team(attrs.evolve(team, members_only=True, member_ids=frozenset({"ana"})))
        uow.commit()
    return coupon.code


def test_ac3_a_non_member_cannot_redeem_or_evaluate_a_coupon_of_the_team(
    app: AfterSales, backend: Any, scenario: Scenario, members_only: str
) -> None:
    with pytest.raises(AccessDenied, match="restricted to its members"), assert_unchanged(backend):
        app.coupons.redeem(members_only, actor=AGENT)
    with pytest.raises(AccessDenied, match="restricted to its members"):
        app.coupons.evaluate(members_only, _ORDER, actor=AGENT)
    member = attrs.evolve(AGENT, user_id="ana")
    assert app.coupons.redeem(members_only, actor=member).program_uses == 1


def test_ac3_a_non_member_cannot_list_the_credit_methods(
    app: AfterSales, backend: Any, scenario: Scenario, members_only: str
) -> None:
    with pytest.raises(AccessDenied, match="restricted to its members"):
        app.refunds.credit_methods(scenario.ticket.id, scenario.invoice.id, actor=AGENT)


def test_ac4_a_portal_user_gets_not_found_for_another_customers_ticket(
    app: AfterSales, scenario: Scenario
) -> None:
    from aftersales.errors import NotFound

    stranger = Actor(user_id="eve", groups={Group.PORTAL}, partner_id=scenario.other_customer.id)
    with pytest.raises(NotFound, match="ticket"):
        app.tickets.view(scenario.ticket.id, actor=stranger)
    with pytest.raises(NotFound, match="ticket"):
        app.tickets.view("ticket-nope", actor=stranger)
    owner = Actor(user_id="ana", groups={Group.PORTAL}, partner_id=scenario.customer.id)
    with pytest.raises(AccessDenied, match="portal"):
        app.tickets.view(scenario.ticket.id, actor=owner)
