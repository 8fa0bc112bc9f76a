"""The One-App-Free trial, the lock and paying (ST-7 … ST-11)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersales import Actor, AfterSales, Config, FrozenClock, Service
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import AccessDenied, DatabaseLocked, IdempotencyConflict, InvalidInput
from aftersales.models import Subscription, SubscriptionState, Team, Ticket
from aftersales.modules import Module
from aftersales.serialization import converter
from aftersales.subscription import Trial
from aftersales.testing import Actors, assert_unchanged
from aftersales.testing.plugin import START
from tests.settings_support import Catalogue, Spy, audit, make_app

ACTORS = Actors()
MANAGER, AGENT, SYSTEM = ACTORS.manager, ACTORS.agent, ACTORS.system
T0 = datetime.fromisoformat(START)
TRIAL_END = T0 + timedelta(days=15)


@attrs.define
class World:
    app: AfterSales
    backend: MemoryBackend
    clock: FrozenClock
    spy: Spy
    team: Team
    ticket: Ticket

    def status(self) -> Subscription:
        return self.app.subscription.status(actor=ACTORS.nobody)

    def enable(self, *services: Service) -> Subscription:
        return self.app.settings.configure(
            self.team.id, enable=set(services), actor=MANAGER
        ).subscription


def _world(backend: MemoryBackend, clock: FrozenClock, trial_days: int = 15) -> World:
    spy = Spy()
    app = make_app(backend, clock, spy, trial_days=trial_days)
    builder = backend.builder(clock)
    builder.project(name="Field Service", fsm=True)
    team = builder.team(name="Support")
    ticket = builder.ticket(team=team, title="Blender broken")
    return World(app=app, backend=backend, clock=clock, spy=spy, team=team, ticket=ticket)


@pytest.fixture
def w(backend: MemoryBackend, clock: FrozenClock) -> World:
    return _world(backend, clock)


@pytest.fixture
def trial(w: World) -> World:
    """A database whose trial started at T0 by enabling refunds."""
    w.enable(Service.REFUNDS)
    return w


# -- ST-7, ST-8: starting the trial ------------------------------------------------------------


def test_st7_a_new_database_is_free(w: World) -> None:
    with assert_unchanged(w.backend):
        assert w.status() == Subscription(state=SubscriptionState.FREE)


def test_st9_reading_the_status_changes_nothing_until_the_trial_runs_out(trial: World) -> None:
    trial.clock.set(TRIAL_END - timedelta(microseconds=1))
    with assert_unchanged(trial.backend):
        assert trial.status().state is SubscriptionState.TRIAL
    trial.clock.set(TRIAL_END)
    assert trial.status().state is SubscriptionState.EXPIRED  # the expiry is recorded
    with assert_unchanged(trial.backend):
        assert trial.status().state is SubscriptionState.EXPIRED


def test_st8_second_application_starts_a_15_day_trial(w: World) -> None:
    """Helpdesk is the free app; refunds adds Invoicing and Sales."""
    subscription = w.enable(Service.REFUNDS)
    assert subscription.state is SubscriptionState.TRIAL
    assert subscription.trial_started_at == T0
    assert (
        subscription.trial_ends_at
        == TRIAL_END
        == datetime.fromisoformat("2026-12-13T09:00:00+00:00")
    )
    assert w.status() == subscription
    [event] = w.spy.subscription
    assert (event.previous, event.state) == (SubscriptionState.FREE, SubscriptionState.TRIAL)
    assert event.actor_id == MANAGER.user_id


def test_st8_plain_modules_on_top_of_installed_apps_start_nothing(w: World) -> None:
    """Only installing an application starts a trial; bridges are not applications."""
    w.backend.builder(w.clock).install("account", "sale_management")
    assert w.enable(Service.REFUNDS).state is SubscriptionState.FREE


def test_st8_the_one_free_app_starts_nothing(clock: FrozenClock) -> None:
    """On an empty database, a service that needs Helpdesk only installs the one free app."""
    backend = MemoryBackend(installed_modules=("base", "mail"))
    slim = Catalogue(
        Module(name="helpdesk_sale", label="Helpdesk Sales", depends=("helpdesk",)),
        Module(name="helpdesk_account", label="Helpdesk Refunds", depends=("helpdesk_sale",)),
    )
    app = make_app(backend, clock, slim)
    team = backend.builder(clock).team(name="Support")
    result = app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    assert result.installed == ("helpdesk", "helpdesk_sale", "helpdesk_account")
    assert result.subscription.state is SubscriptionState.FREE
    # the next application is the second one
    result = app.settings.configure(team.id, enable={Service.RETURNS}, actor=MANAGER)
    assert result.subscription.state is SubscriptionState.TRIAL


def test_st8_trial_would_start_rules(w: World) -> None:
    decide = Trial(w.app.runtime).would_start
    free, paid = Subscription(), Subscription(state=SubscriptionState.PAID)
    base = ("base", "mail")
    assert not decide(free, base, ("helpdesk",))
    assert decide(free, (*base, "helpdesk"), ("account",))
    assert decide(free, base, ("helpdesk", "stock"))
    assert not decide(free, (*base, "helpdesk", "stock"), ("helpdesk_stock",))
    assert not decide(paid, base, ("helpdesk", "stock"))
    assert not decide(free, base, ("unknown_app", "other_unknown"))


def test_st8_another_app_during_a_trial_does_not_extend_it(trial: World) -> None:
    trial.clock.advance(days=10)
    subscription = trial.enable(Service.RETURNS, Service.FIELD_SERVICE)
    assert subscription.state is SubscriptionState.TRIAL
    assert subscription.trial_started_at == T0
    assert subscription.trial_ends_at == TRIAL_END
    assert len(trial.spy.subscription) == 1
    assert len(audit(trial.app, "subscription trial")) == 1


def test_st8_on_paid_nothing_starts(w: World) -> None:
    w.app.subscription.register_paid("SUB-2026-001", actor=SYSTEM)
    subscription = w.enable(*Service)
    assert subscription.state is SubscriptionState.PAID
    assert subscription.trial_started_at is None
    assert subscription.trial_ends_at is None
    plan = w.app.settings.plan(w.team.id, actor=MANAGER)
    assert not plan.trial_starts


def test_st5_plan_during_a_trial_does_not_announce_a_new_one(trial: World) -> None:
    plan = trial.app.settings.plan(trial.team.id, enable={Service.REPAIRS}, actor=MANAGER)
    assert "repair" in plan.applications
    assert not plan.trial_starts
    assert plan.trial_ends_at is None


# -- ST-9: the lock ----------------------------------------------------------------------------

Call = Callable[[World], object]


SERVICE_CALLS: dict[str, Call] = {
    "settings.plan": lambda w: w.app.settings.plan(
        w.team.id, enable={Service.COUPONS}, actor=MANAGER
    ),
    "settings.configure": lambda w: w.app.settings.configure(
        w.team.id, enable={Service.COUPONS}, actor=MANAGER
    ),
    "settings.team_settings": lambda w: w.app.settings.team_settings(w.team.id, actor=MANAGER),
    "settings.uninstall": lambda w: w.app.settings.uninstall("helpdesk_account", actor=MANAGER),
    "tickets.view": lambda w: w.app.tickets.view(w.ticket.id, actor=AGENT),
    "refunds.credit_notes": lambda w: w.app.refunds.credit_notes(w.ticket.id, actor=SYSTEM),
    "coupons.coupons": lambda w: w.app.coupons.coupons(w.ticket.id, actor=SYSTEM),
    "returns.returns": lambda w: w.app.returns.returns(w.ticket.id, actor=SYSTEM),
    "repairs.repairs": lambda w: w.app.repairs.repairs(w.ticket.id, actor=SYSTEM),
    "field_service.tasks": lambda w: w.app.field_service.tasks(w.ticket.id, actor=SYSTEM),
    "outbox.emails": lambda w: w.app.outbox.emails(actor=SYSTEM),
}


@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_st9_day_14_works(trial: World, call: str) -> None:
    trial.clock.advance(days=14, hours=23, minutes=59, seconds=59)
    SERVICE_CALLS[call](trial)
    assert trial.status().state is SubscriptionState.TRIAL


@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_st9_day_15_every_service_call_is_locked(trial: World, call: str) -> None:
    trial.clock.set(TRIAL_END)  # now >= trial_ends_at
    with pytest.raises(DatabaseLocked) as info:
        SERVICE_CALLS[call](trial)
    assert info.value.expired_at == TRIAL_END
    assert "trial expired on 2026-12-13T09:00:00+00:00" in str(info.value)
    assert "register a paid subscription" in str(info.value)
    # once the expiry is recorded, a locked call changes nothing at all
    trial.clock.advance(days=40)
    with pytest.raises(DatabaseLocked), assert_unchanged(trial.backend):
        SERVICE_CALLS[call](trial)


def test_st9_the_first_locked_call_records_the_expiry_once(trial: World) -> None:
    trial.clock.set(TRIAL_END + timedelta(hours=3))
    for _ in range(3):
        with pytest.raises(DatabaseLocked):
            trial.app.tickets.view(trial.ticket.id, actor=AGENT)
    [expired] = audit(trial.app, "subscription expired")
    assert expired.actor_id == SYSTEM.user_id
    assert expired.at == TRIAL_END + timedelta(hours=3)
    assert "trial ended 2026-12-13T09:00:00+00:00" in expired.detail
    assert trial.status().state is SubscriptionState.EXPIRED
    assert [e.state for e in trial.spy.subscription] == [
        SubscriptionState.TRIAL,
        SubscriptionState.EXPIRED,
    ]


def test_st9_status_is_readable_while_locked_by_anyone(trial: World) -> None:
    trial.clock.set(TRIAL_END)
    for actor in (ACTORS.nobody, AGENT, MANAGER, SYSTEM):
        subscription = trial.app.subscription.status(actor=actor)
        assert subscription.state is SubscriptionState.EXPIRED
        assert subscription.trial_ends_at == TRIAL_END


@pytest.mark.parametrize(
    "actor", [MANAGER, AGENT, ACTORS.nobody], ids=["manager", "agent", "nobody"]
)
def test_st9_only_the_system_registers_a_paid_subscription(trial: World, actor: Actor) -> None:
    trial.clock.set(TRIAL_END)
    trial.status()
    with pytest.raises(AccessDenied) as info, assert_unchanged(trial.backend):
        trial.app.subscription.register_paid("SUB-1", actor=actor)
    assert info.value.action == "register a paid subscription"
    assert "system" in str(info.value)


@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_st9_paying_unlocks(trial: World, call: str) -> None:
    trial.clock.set(TRIAL_END + timedelta(days=3))
    with pytest.raises(DatabaseLocked):
        SERVICE_CALLS[call](trial)
    paid = trial.app.subscription.register_paid("SUB-2026-001", actor=SYSTEM)
    assert paid.state is SubscriptionState.PAID
    assert paid.paid_reference == "SUB-2026-001"
    SERVICE_CALLS[call](trial)
    trial.clock.advance(days=365)
    assert trial.status().state is SubscriptionState.PAID


def _free(w: World) -> None:
    pass


def _in_trial(w: World) -> None:
    w.enable(Service.REFUNDS)


def _expired_observed(w: World) -> None:
    w.enable(Service.REFUNDS)
    w.clock.set(TRIAL_END)
    w.status()


def _expired_unobserved(w: World) -> None:
    w.enable(Service.REFUNDS)
    w.clock.set(TRIAL_END + timedelta(days=1))


def _paid(w: World) -> None:
    w.app.subscription.register_paid("SUB-OLD", actor=SYSTEM)


@pytest.mark.parametrize(
    "arrange",
    [_free, _in_trial, _expired_observed, _expired_unobserved, _paid],
    ids=["free", "trial", "expired", "expired-unobserved", "paid"],
)
def test_st9_paid_from_any_state(w: World, arrange: Callable[[World], None]) -> None:
    arrange(w)
    paid = w.app.subscription.register_paid("SUB-NEW", actor=SYSTEM)
    assert paid.state is SubscriptionState.PAID
    assert paid.paid_reference == "SUB-NEW"
    assert paid.changed_at == w.clock.now()
    assert w.status() == paid
    w.enable(*Service)  # unlocked, nothing starts
    assert w.status() == paid
    [entry] = audit(w.app, "subscription paid")[-1:]
    assert entry.actor_id == SYSTEM.user_id
    assert entry.detail.endswith("paid subscription SUB-NEW")


def test_st11_paying_after_an_unobserved_expiry_records_both_moves(w: World) -> None:
    _expired_unobserved(w)
    w.app.subscription.register_paid("SUB-NEW", actor=SYSTEM)
    moves = [(e.previous, e.state) for e in w.spy.subscription]
    assert moves == [
        (SubscriptionState.FREE, SubscriptionState.TRIAL),
        (SubscriptionState.TRIAL, SubscriptionState.EXPIRED),
        (SubscriptionState.EXPIRED, SubscriptionState.PAID),
    ]


def test_register_paid_again_with_the_same_reference_changes_nothing(w: World) -> None:
    first = w.app.subscription.register_paid("SUB-1", actor=SYSTEM)
    with assert_unchanged(w.backend):
        again = w.app.subscription.register_paid("SUB-1", actor=SYSTEM)
    assert again == first


def test_register_paid_replays_and_conflicts(w: World) -> None:
    first = w.app.subscription.register_paid("SUB-1", actor=SYSTEM, idempotency_key="pay-1")
    w.clock.advance(days=1)
    with assert_unchanged(w.backend):
        assert (
            w.app.subscription.register_paid("SUB-1", actor=SYSTEM, idempotency_key="pay-1")
            == first
        )
    with pytest.raises(IdempotencyConflict), assert_unchanged(w.backend):
        w.app.subscription.register_paid("SUB-2", actor=SYSTEM, idempotency_key="pay-1")


@pytest.mark.parametrize("reference", ["", "   ", None, 42, "x" * 129, "SUB\x00"])
def test_register_paid_needs_a_reference(w: World, reference: object) -> None:
    with pytest.raises(InvalidInput) as info, assert_unchanged(w.backend):
        w.app.subscription.register_paid(reference, actor=SYSTEM)  # type: ignore[arg-type]
    assert info.value.field == "reference"


def test_a_failing_expiry_record_does_not_hide_the_lock(
    trial: World, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("audit store offline")

    trial.app.runtime.on_locked = broken
    trial.clock.set(TRIAL_END)
    with caplog.at_level(logging.ERROR, logger="aftersales"), pytest.raises(DatabaseLocked):
        trial.app.tickets.view(trial.ticket.id, actor=AGENT)
    assert "could not record the expiry" in caplog.text


# -- ST-10: trial length and clock -------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 3, 30])
def test_st10_trial_length_is_configurable(
    backend: MemoryBackend, clock: FrozenClock, days: int
) -> None:
    w = _world(backend, clock, trial_days=days)
    subscription = w.enable(Service.RETURNS)
    assert subscription.trial_ends_at == T0 + timedelta(days=days)
    plan = w.app.settings.plan(w.team.id, actor=MANAGER)
    assert plan.trial_ends_at is None  # already running
    clock.set(T0 + timedelta(days=days) - timedelta(seconds=1))
    w.app.tickets.view(w.ticket.id, actor=AGENT)
    clock.advance(seconds=1)
    with pytest.raises(DatabaseLocked) as info:
        w.app.tickets.view(w.ticket.id, actor=AGENT)
    assert info.value.expired_at == T0 + timedelta(days=days)


def test_st10_default_trial_is_15_days() -> None:
    assert Config().trial_days == 15
    assert Config().trial_length == timedelta(days=15)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "15", None])
def test_st10_trial_days_must_be_a_positive_whole_number(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        Config(trial_days=value)  # type: ignore[arg-type]
    assert info.value.field == "trial_days"


# -- ST-11: audit ------------------------------------------------------------------------------


def test_st11_trial_start_expiry_and_payment_are_audited(trial: World) -> None:
    trial.clock.set(TRIAL_END + timedelta(minutes=5))
    trial.status()
    trial.clock.advance(days=2)
    trial.app.subscription.register_paid("SUB-9", actor=Actor.system("billing-bot"))
    entries = audit(trial.app, "subscription")
    assert [(e.action, e.actor_id, e.at) for e in entries] == [
        ("subscription trial", MANAGER.user_id, T0),
        ("subscription expired", SYSTEM.user_id, TRIAL_END + timedelta(minutes=5)),
        ("subscription paid", "billing-bot", TRIAL_END + timedelta(days=2, minutes=5)),
    ]
    assert entries[0].detail == (
        "free -> trial: trial started: 3 applications installed "
        "(account, helpdesk, sale_management); ends 2026-12-13T09:00:00+00:00"
    )
    assert entries[2].detail == "expired -> paid: paid subscription SUB-9"


def test_subscription_round_trips(trial: World) -> None:
    subscription = trial.status()
    assert converter.structure(converter.unstructure(subscription), Subscription) == subscription


# -- property: the trial never moves -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=96), st.sampled_from(list(Service))),
        min_size=1,
        max_size=8,
    )
)
def test_st8_property_the_trial_starts_once_and_never_moves(
    steps: list[tuple[int, Service]],
) -> None:
    """ST-8/ST-9: whatever is enabled whenever, the trial starts with the first new app,
    ends 15 days later, and from then on every configure is locked."""
    clock = FrozenClock(START)
    w = _world(MemoryBackend(), clock)
    for hours, service in steps:
        clock.advance(hours=hours)
        if clock.now() >= _trial_end(w):
            assert w.status().state is SubscriptionState.EXPIRED
            with pytest.raises(DatabaseLocked), assert_unchanged(w.backend):
                w.enable(service)
            continue
        w.enable(service)
        subscription = w.status()
        assert subscription.state is SubscriptionState.TRIAL
        first = T0 + timedelta(hours=steps[0][0])
        assert subscription.trial_started_at == first
        assert subscription.trial_ends_at == first + timedelta(days=15)
    assert len(audit(w.app, "subscription trial")) == 1


def _trial_end(w: World) -> datetime:
    ends = w.app.hooks.subscription_get().trial_ends_at
    return ends if ends is not None else datetime.max.replace(tzinfo=T0.tzinfo)
