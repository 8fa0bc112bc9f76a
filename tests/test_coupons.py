"""CouponService on a ticket: programs (CP-2), generate (CP-4 … CP-6), send (CP-7, CP-8),
the ticket's coupons (CP-10), rights (AC-2, AC-3) and refusals that change nothing (G-3)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, Config, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import (
    AccessDenied,
    BackendError,
    ConfigurationError,
    ConflictError,
    DatabaseLocked,
    IdempotencyConflict,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
    ServiceDisabled,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    CouponProgram,
    CouponState,
    DocumentChanged,
    DocumentCreated,
    DocumentKind,
    EmailDelivery,
    EmailState,
    Money,
    OutgoingEmail,
    Partner,
    ProgramTrigger,
    ProgramType,
    Reward,
    RewardKind,
    Service,
    Subscription,
    SubscriptionState,
    TicketMessage,
)
from aftersales.models.loyalty import COUPON_CODE_ALPHABET
from aftersales.serialization import dumps, loads
from aftersales.services.coupons import CouponInfo, CouponSent
from aftersales.testing import Scenario, Witness, assert_unchanged, build_scenario

TODAY = date(2026, 11, 28)
DEFAULT_CODE = re.compile(rf"^044[{COUPON_CODE_ALPHABET}]{{11}}$")


@pytest.fixture
def events(app: AfterSales) -> Witness:
    plugin = Witness()
    app.pm.register(plugin, name="events")
    return plugin


def _trail(backend: MemoryBackend, ticket_id: str) -> list[TicketMessage]:
    return backend.aftersales_store_list_messages(ticket_id)


def _app_with(backend: MemoryBackend, clock: FrozenClock, **config: Any) -> AfterSales:
    return AfterSales(backend, clock=clock, config=Config(**config))


def _sequence(*codes: str) -> Callable[[CouponProgram], str]:
    """A code generator that returns ``codes`` in order (then repeats the last one)."""
    pending = list(codes)
    calls: list[str] = []

    def generate(program: CouponProgram) -> str:
        code = pending.pop(0) if len(pending) > 1 else pending[0]
        calls.append(code)
        return code

    generate.calls = calls  # type: ignore[attr-defined]
    return generate


# -- CP-2: programs offered on a ticket ------------------------------------------------------------


def test_cp2_offers_only_active_code_triggered_unexpired_coupon_programs(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    ends_today = world.coupon_program(name="Ends today", date_to=TODAY)
    later = world.coupon_program(name="Ends next year", date_to=date(2027, 1, 1))
    world.coupon_program(name="Archived", active=False)
    world.coupon_program(name="Ended yesterday", date_to=TODAY - timedelta(days=1))
    world.coupon_program(name="Promotion", program_type=ProgramType.PROMOTION)
    world.coupon_program(name="Automatic", trigger=ProgramTrigger.AUTO)
    world.coupon_program(name="Gift card", program_type=ProgramType.GIFT_CARD)

    offered = app.coupons.programs(scenario.ticket.id, actor=scenario.actors.agent)

    assert [p.id for p in offered] == [scenario.program.id, ends_today.id, later.id]


def test_cp2_a_program_is_no_longer_offered_the_day_after_it_ends(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Short", date_to=TODAY)
    assert program in app.coupons.programs(scenario.ticket.id, actor=scenario.actors.agent)
    clock.advance(days=1)
    assert program not in app.coupons.programs(scenario.ticket.id, actor=scenario.actors.agent)


def test_cp2_programs_refused_when_the_team_has_coupons_off(
    backend: MemoryBackend, clock: FrozenClock
) -> None:
    app = AfterSales(backend, clock=clock)
    world = build_scenario(backend.builder(clock), services=frozenset({Service.REFUNDS}))
    with pytest.raises(ServiceDisabled, match="coupons service is not enabled"):
        app.coupons.programs(world.ticket.id, actor=world.actors.agent)


# -- CP-4, CP-6: generate --------------------------------------------------------------------------


def test_cp4_generates_a_usable_coupon_for_the_ticket_customer(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    """Stricter than the reference: the coupon has the points for one use, not zero."""
    program = backend.builder(clock).coupon_program(
        name="Five points",
        reward=Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(15), required_points=Decimal(5)),
    )
    info = app.coupons.generate(
        scenario.ticket.id,
        program.id,
        expires_on=date(2026, 12, 31),
        actor=scenario.actors.agent,
    )

    coupon = backend.aftersales_loyalty_get_coupon(info.id, lock=False)
    assert coupon is not None
    assert coupon.partner_id == scenario.customer.id
    assert coupon.points == Decimal(5) == program.reward.required_points
    assert coupon.ticket_id == scenario.ticket.id
    assert coupon.expires_on == date(2026, 12, 31)
    # CP-6: what the agent sees — the code to copy, the expiry, the program.
    assert info.code == coupon.code
    assert info.expires_on == date(2026, 12, 31)
    assert (info.program_id, info.program_name) == (program.id, "Five points")
    assert info.reward == "15% on your order"
    assert info.state is CouponState.VALID
    # and it can be used at once
    used = app.coupons.redeem(info.code, actor=scenario.actors.agent)
    assert used.coupon.state is CouponState.USED


def test_cp4_g4_the_coupon_is_linked_counted_and_on_the_trail(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, events: Witness
) -> None:
    agent = scenario.actors.agent
    info = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)

    view = app.tickets.view(scenario.ticket.id, actor=agent)
    assert view.counts.coupons == 1
    assert [(d.kind, d.document_id, d.name, d.state) for d in view.documents] == [
        (DocumentKind.COUPON, info.id, info.code, "valid")
    ]
    (message,) = _trail(backend, scenario.ticket.id)
    assert message.author_id == agent.user_id
    assert message.document_id == info.id
    assert info.code in message.body
    assert scenario.program.name in message.body
    audit = backend.aftersales_store_audit_list(scenario.ticket.id)
    assert [(a.action, a.document_ids) for a in audit] == [("coupon created", (info.id,))]
    assert events.events == [
        DocumentCreated(
            at=app.clock.now(),
            actor_id=agent.user_id,
            ticket_id=scenario.ticket.id,
            kind=DocumentKind.COUPON,
            document_id=info.id,
        )
    ]


def test_cp4_without_expiry_the_coupon_lasts_as_long_as_its_program(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Winter", date_to=date(2027, 2, 28))
    info = app.coupons.generate(scenario.ticket.id, program.id, actor=scenario.actors.agent)
    assert info.expires_on == date(2027, 2, 28)
    forever = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent
    )
    assert forever.expires_on is None


def test_cp4_refused_when_the_ticket_has_no_customer(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    ticket = backend.builder(clock).ticket(team=scenario.team, title="Anonymous question")
    with pytest.raises(InvalidOperation, match="has no customer"), assert_unchanged(backend):
        app.coupons.generate(ticket.id, scenario.program.id, actor=scenario.actors.agent)


@pytest.mark.parametrize(
    ("expires_on", "message"),
    [
        (TODAY - timedelta(days=1), "is in the past"),
        (datetime(2026, 12, 31, 12, 0), "expected a date"),
        ("2026-12-31", "expected a date"),
    ],
)
def test_cp4_refuses_a_bad_expiration_date(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, expires_on: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught, assert_unchanged(backend):
        app.coupons.generate(
            scenario.ticket.id,
            scenario.program.id,
            expires_on=expires_on,
            actor=scenario.actors.agent,
        )
    assert caught.value.field == "expires_on"


def test_cp4_an_expiry_of_today_is_accepted(app: AfterSales, scenario: Scenario) -> None:
    info = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, expires_on=TODAY, actor=scenario.actors.agent
    )
    assert info.state is CouponState.VALID


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"active": False}, "it has ended"),
        ({"date_to": TODAY - timedelta(days=1)}, "it has ended"),
        ({"program_type": ProgramType.PROMOTION}, "triggered by a code"),
        ({"trigger": ProgramTrigger.AUTO}, "triggered by a code"),
    ],
)
def test_cp2_cp4_generation_refused_for_a_program_not_offered(
    app: AfterSales,
    backend: MemoryBackend,
    clock: FrozenClock,
    scenario: Scenario,
    options: dict[str, Any],
    message: str,
) -> None:
    program = backend.builder(clock).coupon_program(name="Not offered", **options)
    with pytest.raises(InvalidOperation, match=message), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, program.id, actor=scenario.actors.agent)


def test_cp4_generation_refused_when_the_program_usage_limit_is_reached(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Once", max_usage=1)
    agent = scenario.actors.agent
    first = app.coupons.generate(scenario.ticket.id, program.id, actor=agent)
    app.coupons.redeem(first.code, actor=agent)
    with pytest.raises(InvalidOperation, match="usage limit"), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, program.id, actor=agent)


def test_g7_generation_for_an_unknown_program_or_ticket_is_not_found(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    with pytest.raises(NotFound, match="coupon program nope"), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, "nope", actor=agent)
    with pytest.raises(NotFound, match="ticket nope"), assert_unchanged(backend):
        app.coupons.generate("nope", scenario.program.id, actor=agent)
    with pytest.raises(InvalidInput, match="program_id"), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, 42, actor=agent)  # type: ignore[arg-type]


def test_cp6_results_round_trip_through_json(app: AfterSales, scenario: Scenario) -> None:
    agent = scenario.actors.agent
    info = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, expires_on=date(2027, 1, 31), actor=agent
    )
    assert loads(dumps(info), CouponInfo) == info
    sent = app.coupons.send(scenario.ticket.id, info.id, actor=agent)
    assert loads(dumps(sent), CouponSent) == sent
    listed = app.coupons.coupons(scenario.ticket.id, actor=agent)
    assert loads(dumps(listed), tuple[CouponInfo, ...]) == listed


# -- CP-5: unique codes ----------------------------------------------------------------------------


def test_cp5_default_codes_are_044_and_11_random_characters(
    app: AfterSales, scenario: Scenario
) -> None:
    codes = {
        app.coupons.generate(
            scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent
        ).code
        for _ in range(20)
    }
    assert len(codes) == 20
    assert all(DEFAULT_CODE.match(code) for code in codes), codes


def test_cp5_the_code_generator_is_pluggable(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    def per_program(program: CouponProgram) -> str:
        return f"SORRY-{program.id[-4:]}"

    app = _app_with(backend, clock, coupon_code_generator=per_program)
    info = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent
    )
    assert info.code == f"SORRY-{scenario.program.id[-4:]}"


def test_cp5_a_colliding_code_is_replaced_by_a_new_one(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    generator = _sequence("TAKEN", "TAKEN", "FRESH")
    app = _app_with(backend, clock, coupon_code_generator=generator)
    agent = scenario.actors.agent
    first = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    second = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    assert (first.code, second.code) == ("TAKEN", "FRESH")
    assert generator.calls == ["TAKEN", "TAKEN", "FRESH"]  # type: ignore[attr-defined]
    assert app.tickets.view(scenario.ticket.id, actor=agent).counts.coupons == 2


def test_cp5_a_code_never_equals_a_program_trigger_code(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    backend.builder(clock).coupon_program(name="Public", code="WELCOME10")
    app = _app_with(backend, clock, coupon_code_generator=_sequence("WELCOME10", "OWN-CODE"))
    info = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent
    )
    assert info.code == "OWN-CODE"


def test_cp5_gives_up_after_a_bounded_number_of_collisions(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    generator = _sequence("SAME")
    app = _app_with(backend, clock, coupon_code_generator=generator, coupon_code_attempts=4)
    agent = scenario.actors.agent
    app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    with (
        pytest.raises(ConflictError, match="no free coupon code after 4 attempts"),
        assert_unchanged(backend),
    ):
        app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    # 1 + 4 codes per try, tried config.retries (3) times: bounded, never endless
    assert len(generator.calls) == 1 + 4 * 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "line\nbreak", 42])
def test_cp5_a_generator_returning_an_unusable_code_is_a_configuration_error(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, bad: Any
) -> None:
    app = _app_with(backend, clock, coupon_code_generator=lambda _program: bad)
    with pytest.raises(ConfigurationError, match="unusable code"), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent)


def test_cp5_rl3_codes_stay_unique_when_many_threads_generate_at_once(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    """A generator drawing from only 40 codes makes collisions certain; the backend's
    unique constraint and the retries keep every code unique."""
    import random

    pool = [f"POOL-{n:02d}" for n in range(40)]
    lock = threading.Lock()
    rng = random.Random(7)

    def small_pool(_program: CouponProgram) -> str:
        with lock:
            return rng.choice(pool)

    app = _app_with(backend, clock, coupon_code_generator=small_pool, coupon_code_attempts=200)
    codes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(3):
            try:
                info = app.coupons.generate(
                    scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            else:
                with lock:
                    codes.append(info.code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(codes) == 24 == len(set(codes))
    stored = [c.code for c in backend.store.values("coupons")]
    assert sorted(stored) == sorted(codes)


# -- idempotency (RL-2) ----------------------------------------------------------------------------


def test_rl2_generate_with_the_same_key_returns_the_first_coupon(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    first = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, actor=agent, idempotency_key="gen-1"
    )
    with assert_unchanged(backend):
        again = app.coupons.generate(
            scenario.ticket.id, scenario.program.id, actor=agent, idempotency_key="gen-1"
        )
    assert again == first
    with pytest.raises(IdempotencyConflict), assert_unchanged(backend):
        app.coupons.generate(
            scenario.ticket.id,
            scenario.program.id,
            expires_on=TODAY,
            actor=agent,
            idempotency_key="gen-1",
        )


def test_rl2_send_with_the_same_key_sends_once(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    info = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    first = app.coupons.send(scenario.ticket.id, info.id, actor=agent, idempotency_key="send-1")
    again = app.coupons.send(scenario.ticket.id, info.id, actor=agent, idempotency_key="send-1")
    assert again == first
    assert len(backend.delivered) == 1
    with pytest.raises(IdempotencyConflict), assert_unchanged(backend):
        app.coupons.send(
            scenario.ticket.id,
            info.id,
            extra_recipients=["boss@example.com"],
            actor=agent,
            idempotency_key="send-1",
        )


# -- CP-7, CP-8: send ------------------------------------------------------------------------------


@pytest.fixture
def generated(app: AfterSales, scenario: Scenario) -> CouponInfo:
    return app.coupons.generate(
        scenario.ticket.id,
        scenario.program.id,
        expires_on=date(2026, 12, 31),
        actor=scenario.actors.agent,
    )


def test_cp7_sends_to_the_customer_every_follower_and_extra_recipients_once(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo
) -> None:
    sent = app.coupons.send(
        scenario.ticket.id,
        generated.id,
        extra_recipients=[
            "Jefa <jefa@perez.example>",
            "ANA@PEREZ.EXAMPLE",  # the customer again, other case
            "marta@example.com",  # the follower again
            "jefa@perez.example",
        ],
        actor=scenario.actors.agent,
    )
    assert sent.recipients == ("ana@perez.example", "marta@example.com", "jefa@perez.example")
    (email,) = backend.delivered
    assert email.recipients == sent.recipients
    assert email.id == sent.email_id


def test_cp7_every_follower_receives_it(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    followers = [
        world.customer(name=f"Follower {n}", email=f"follower{n}@example.com") for n in range(5)
    ]
    ticket = world.ticket(
        team=scenario.team,
        title="Many followers",
        customer=scenario.customer,
        followers=followers,
    )
    agent = scenario.actors.agent
    info = app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    sent = app.coupons.send(ticket.id, info.id, actor=agent)
    assert sent.recipients == (
        "ana@perez.example",
        *(f"follower{n}@example.com" for n in range(5)),
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-address", "not a valid email address"),
        ("a@b", "not a valid email address"),
        ("two@example.com, three@example.com", "one address per entry"),
        ("x@example.com\r\nBcc: victim@example.com", "header injection"),
        ("x@example.com\nSubject: free money", "header injection"),
        ("Name\r\n <x@example.com>", "header injection"),
        ("", "must not be blank"),
        ("ä@example.com", "not a valid email address"),
        ("x" * 65 + "@example.com", "too long"),
    ],
)
def test_cp7_a_bad_extra_address_is_refused_and_nothing_is_sent(
    app: AfterSales,
    backend: MemoryBackend,
    scenario: Scenario,
    generated: CouponInfo,
    address: str,
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught, assert_unchanged(backend):
        app.coupons.send(
            scenario.ticket.id,
            generated.id,
            extra_recipients=["ok@example.com", address],
            actor=scenario.actors.agent,
        )
    assert caught.value.field == "extra_recipients"
    assert backend.delivered == []


@pytest.mark.parametrize("value", ["one@example.com", b"one@example.com", 42, None])
def test_cp7_extra_recipients_must_be_a_list(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo, value: Any
) -> None:
    with pytest.raises(InvalidInput, match="a list of email addresses"), assert_unchanged(backend):
        app.coupons.send(
            scenario.ticket.id, generated.id, extra_recipients=value, actor=scenario.actors.agent
        )


def test_cp7_too_many_extra_recipients_are_refused(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo
) -> None:
    many = [f"r{n}@example.com" for n in range(51)]
    with pytest.raises(InvalidInput, match="at most 50"), assert_unchanged(backend):
        app.coupons.send(
            scenario.ticket.id, generated.id, extra_recipients=many, actor=scenario.actors.agent
        )


def test_cp7_a_partner_with_a_malformed_email_is_refused(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    broken = world.customer(name="Broken", email="broken-at-example.com")
    ticket = world.ticket(
        team=scenario.team, title="Broken", customer=scenario.customer, followers=[broken]
    )
    agent = scenario.actors.agent
    info = app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    with pytest.raises(InvalidInput, match="email of Broken"), assert_unchanged(backend):
        app.coupons.send(ticket.id, info.id, actor=agent)


def test_cp7_partners_without_email_are_skipped_and_named(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    silent = world.customer(name="Sin Correo")
    ticket = world.ticket(
        team=scenario.team, title="Quiet", customer=scenario.customer, followers=[silent]
    )
    agent = scenario.actors.agent
    info = app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    sent = app.coupons.send(ticket.id, info.id, actor=agent)
    assert sent.recipients == ("ana@perez.example",)
    assert sent.without_email == ("Sin Correo",)
    assert "no email address: Sin Correo" in _trail(backend, ticket.id)[-1].body


def test_cp7_nobody_to_send_to_is_refused(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    customer = world.customer(name="Sin Correo")
    ticket = world.ticket(team=scenario.team, title="Quiet", customer=customer)
    agent = scenario.actors.agent
    info = app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    with pytest.raises(InvalidOperation, match="nobody to send"), assert_unchanged(backend):
        app.coupons.send(ticket.id, info.id, actor=agent)
    sent = app.coupons.send(ticket.id, info.id, extra_recipients=["a@example.com"], actor=agent)
    assert sent.recipients == ("a@example.com",)


def test_cp7_a_coupon_of_another_ticket_is_refused(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    other = backend.builder(clock).ticket(
        team=scenario.team, title="Other", customer=scenario.other_customer
    )
    agent = scenario.actors.agent
    info = app.coupons.generate(other.id, scenario.program.id, actor=agent)
    with (
        pytest.raises(InvalidOperation, match="not generated from ticket"),
        assert_unchanged(backend),
    ):
        app.coupons.send(scenario.ticket.id, info.id, actor=agent)
    with pytest.raises(NotFound, match="coupon nope"), assert_unchanged(backend):
        app.coupons.send(scenario.ticket.id, "nope", actor=agent)


def test_cp7_a_used_or_expired_coupon_is_not_sent(
    app: AfterSales,
    backend: MemoryBackend,
    clock: FrozenClock,
    scenario: Scenario,
    generated: CouponInfo,
) -> None:
    agent = scenario.actors.agent
    app.coupons.redeem(generated.code, actor=agent)
    with pytest.raises(InvalidState, match="is used"), assert_unchanged(backend):
        app.coupons.send(scenario.ticket.id, generated.id, actor=agent)
    other = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, expires_on=TODAY, actor=agent
    )
    clock.advance(days=1)
    with pytest.raises(InvalidState, match="is expired"), assert_unchanged(backend):
        app.coupons.send(scenario.ticket.id, other.id, actor=agent)


def test_cp8_the_message_names_code_reward_and_expiry_in_text_and_html(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo
) -> None:
    sent = app.coupons.send(scenario.ticket.id, generated.id, actor=scenario.actors.agent)
    (email,) = backend.delivered
    assert email.subject == sent.subject == "Your coupon: 10% after-sales apology"
    for body in (email.text_body, email.html_body):
        assert generated.code in body
        assert "10% on your order" in body
        assert "2026-12-31" in body
    assert email.text_body.startswith("Hello Ana Pérez,\n")
    assert "<html>" in email.html_body
    assert "<html>" not in email.text_body
    assert email.ticket_id == scenario.ticket.id


def test_cp8_html_escapes_what_comes_from_the_data(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    customer = world.customer(name="<script>x</script>", email="x@example.com")
    ticket = world.ticket(team=scenario.team, title="Blender <b>broken</b> & co", customer=customer)
    agent = scenario.actors.agent
    info = app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    app.coupons.send(ticket.id, info.id, actor=agent)
    (email,) = backend.delivered
    assert "<script>" not in email.html_body
    assert "&lt;script&gt;" in email.html_body
    assert "Blender &lt;b&gt;broken&lt;/b&gt; &amp; co" in email.html_body
    assert "Blender <b>broken</b> & co" in email.text_body


def test_cp8_reward_and_expiry_texts_follow_the_program(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    world = backend.builder(clock)
    eur = Money.of("25", "EUR")
    fixed = world.coupon_program(
        name="Fixed", reward=Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur)
    )
    free = world.coupon_program(
        name="Free kettle",
        reward=Reward(
            kind=RewardKind.FREE_PRODUCT,
            free_product_id=scenario.kettle.id,
            free_quantity=Decimal(2),
        ),
        date_to=date(2027, 3, 1),
    )
    agent = scenario.actors.agent
    for program, reward, valid in [
        (fixed, "25.00 EUR off your order", "with no expiration date"),
        (free, "2 × Kettle free", "until 2027-03-01"),
    ]:
        info = app.coupons.generate(scenario.ticket.id, program.id, actor=agent)
        assert info.reward == reward
        app.coupons.send(scenario.ticket.id, info.id, actor=agent)
        email = backend.delivered[-1]
        assert f"Reward: {reward}" in email.text_body
        assert f"Valid {valid}." in email.text_body


def test_cp8_sending_is_on_the_trail_with_recipients_and_delivered_after_commit(
    app: AfterSales,
    backend: MemoryBackend,
    scenario: Scenario,
    generated: CouponInfo,
    events: Witness,
) -> None:
    agent = scenario.actors.agent
    sent = app.coupons.send(
        scenario.ticket.id, generated.id, extra_recipients=["jefa@perez.example"], actor=agent
    )
    message = _trail(backend, scenario.ticket.id)[-1]
    assert message.body == (
        f"Coupon {generated.code} sent by email to "
        "ana@perez.example, marta@example.com, jefa@perez.example"
    )
    assert (message.document_kind, message.document_id) == (DocumentKind.COUPON, generated.id)
    # AC-5: newest first, also for messages of the same moment
    view_trail = app.tickets.view(scenario.ticket.id, actor=agent).trail
    assert [m.id for m in view_trail] == [
        m.id for m in reversed(_trail(backend, scenario.ticket.id))
    ]
    assert view_trail[0] == message
    changed, delivered = events.events[-2:]
    assert isinstance(changed, DocumentChanged)
    assert changed.change == "sent"
    # then the delivery, with who took the email
    assert isinstance(delivered, EmailDelivery)
    assert (delivered.email_id, delivered.state, delivered.refused) == (
        sent.email_id,
        EmailState.SENT,
        (),
    )
    assert delivered.accepted == ("ana@perez.example", "marta@example.com", "jefa@perez.example")
    (outbox,) = backend.aftersales_store_mail_list_outbox(pending_only=False)
    assert outbox.id == sent.email_id
    assert outbox.state is EmailState.SENT
    assert outbox.attempts == 1
    assert app.tickets.view(scenario.ticket.id, actor=agent).counts.coupons == 1


class FailingTrail:
    """A plugin whose trail fails: the call must leave nothing, and send nothing."""

    @hookimpl(tryfirst=True)
    def aftersales_store_post_message(self, message: TicketMessage) -> TicketMessage:
        raise BackendError("trail unavailable")


def test_rl1_g3_a_failure_after_queueing_the_email_sends_nothing(
    app: AfterSales,
    backend: MemoryBackend,
    scenario: Scenario,
    generated: CouponInfo,
    events: Witness,
) -> None:
    app.pm.register(FailingTrail(), name="failing-trail")
    with pytest.raises(BackendError, match="trail unavailable"), assert_unchanged(backend):
        app.coupons.send(scenario.ticket.id, generated.id, actor=scenario.actors.agent)
    assert backend.delivered == []
    assert events.events == []


def test_rl1_g3_a_failed_generation_links_and_counts_nothing(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, events: Witness
) -> None:
    """AC-6: counts stay right after a failed call."""
    app.pm.register(FailingTrail(), name="failing-trail")
    with pytest.raises(BackendError), assert_unchanged(backend):
        app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=scenario.actors.agent)
    app.pm.unregister(name="failing-trail")
    assert app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent).counts.coupons == 0
    assert events.events == []


# -- CP-10: the ticket's coupons -------------------------------------------------------------------


def test_cp10_the_ticket_lists_its_coupons_with_code_program_expiry_and_state(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    world = backend.builder(clock)
    ending = world.coupon_program(name="Ends soon", date_to=TODAY + timedelta(days=2))
    valid = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    used = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    expiring = app.coupons.generate(
        scenario.ticket.id, scenario.program.id, expires_on=TODAY, actor=agent
    )
    program_ends = app.coupons.generate(scenario.ticket.id, ending.id, actor=agent)
    app.coupons.redeem(used.code, actor=agent)
    clock.advance(days=3)

    listed = app.coupons.coupons(scenario.ticket.id, actor=agent)

    assert [(c.code, c.program_name, c.expires_on, c.state) for c in listed] == [
        (valid.code, scenario.program.name, None, CouponState.VALID),
        (used.code, scenario.program.name, None, CouponState.USED),
        (expiring.code, scenario.program.name, TODAY, CouponState.EXPIRED),
        (program_ends.code, "Ends soon", TODAY + timedelta(days=2), CouponState.EXPIRED),
    ]
    view = app.tickets.view(scenario.ticket.id, actor=agent)
    assert view.counts.coupons == len(listed) == 4
    assert [(d.name, d.state, d.expires_on) for d in view.documents] == [
        (c.code, c.state.value, c.expires_on) for c in listed
    ]


def test_cp10_coupons_of_a_program_at_its_usage_limit_show_expired(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Twice", max_usage=2)
    agent = scenario.actors.agent
    coupons = [app.coupons.generate(scenario.ticket.id, program.id, actor=agent) for _ in range(3)]
    for coupon in coupons[:2]:
        app.coupons.redeem(coupon.code, actor=agent)
    states = [c.state for c in app.coupons.coupons(scenario.ticket.id, actor=agent)]
    assert states == [CouponState.USED, CouponState.USED, CouponState.EXPIRED]


def test_cp10_a_ticket_without_coupons_lists_none(app: AfterSales, scenario: Scenario) -> None:
    assert app.coupons.coupons(scenario.ticket.id, actor=scenario.actors.agent) == ()


def test_cp10_issued_coupons_stay_visible_after_the_team_turns_coupons_off(
    app: AfterSales, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    info = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    app.settings.configure(
        scenario.team.id, disable={Service.COUPONS}, actor=scenario.actors.manager
    )
    assert [c.id for c in app.coupons.coupons(scenario.ticket.id, actor=agent)] == [info.id]
    with pytest.raises(ServiceDisabled):
        app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)


# -- AC-2, AC-3, G-1, G-2: rights, visibility, lock ------------------------------------------------


def _every_call(
    app: AfterSales, scenario: Scenario, coupon: CouponInfo
) -> dict[str, Callable[..., object]]:
    from aftersales.models import Order, OrderLine

    order = Order.of(OrderLine.of(scenario.kettle, 1))
    ticket = scenario.ticket.id
    return {
        "programs": lambda actor: app.coupons.programs(ticket, actor=actor),
        "generate": lambda actor: app.coupons.generate(ticket, scenario.program.id, actor=actor),
        "send": lambda actor: app.coupons.send(ticket, coupon.id, actor=actor),
        "evaluate": lambda actor: app.coupons.evaluate(coupon.code, order, actor=actor),
        "redeem": lambda actor: app.coupons.redeem(coupon.code, actor=actor),
        "coupons": lambda actor: app.coupons.coupons(ticket, actor=actor),
    }


CALLS = ["programs", "generate", "send", "evaluate", "redeem", "coupons"]


@pytest.mark.parametrize("call", CALLS)
def test_ac2_ac4_every_call_needs_a_helpdesk_user(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo, call: str
) -> None:
    calls = _every_call(app, scenario, generated)
    with pytest.raises(AccessDenied, match="helpdesk_user") as caught, assert_unchanged(backend):
        calls[call](scenario.actors.nobody)
    assert caught.value.action in ("coupon", "view ticket")
    with pytest.raises(InvalidInput, match="explicit Actor"), assert_unchanged(backend):
        calls[call](None)


@pytest.mark.parametrize("call", CALLS)
def test_ac2_a_helpdesk_user_alone_may_do_every_coupon_call(
    app: AfterSales, scenario: Scenario, generated: CouponInfo, call: str
) -> None:
    _every_call(app, scenario, generated)[call](scenario.actors.helpdesk_only)


@pytest.mark.parametrize("call", ["programs", "generate", "send", "coupons"])
def test_ac3_a_members_only_team_hides_its_tickets(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, call: str
) -> None:
    world = backend.builder(clock)
    team = world.team(
        name="VIP", services=frozenset(Service), members=["someone-else"], members_only=True
    )
    ticket = world.ticket(team=team, title="VIP", customer=scenario.customer)
    system = scenario.actors.system
    coupon = app.coupons.generate(ticket.id, scenario.program.id, actor=system)
    calls = _every_call(app, attrs.evolve(scenario, ticket=ticket), coupon)
    with pytest.raises(AccessDenied, match="restricted to its members"), assert_unchanged(backend):
        calls[call](scenario.actors.agent)


@pytest.mark.parametrize("call", CALLS)
def test_g2_a_locked_database_refuses_every_call(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo, call: str
) -> None:
    backend.store.put(
        "subscription",
        "database",
        Subscription(
            state=SubscriptionState.EXPIRED,
            trial_started_at=datetime.fromisoformat("2026-11-01T09:00:00+00:00"),
            trial_ends_at=datetime.fromisoformat("2026-11-16T09:00:00+00:00"),
        ),
    )
    with pytest.raises(DatabaseLocked), assert_unchanged(backend):
        _every_call(app, scenario, generated)[call](scenario.actors.agent)


# -- the outbox service ----------------------------------------------------------------------------


class FlakyTransport:
    """A transport that fails until told to work."""

    def __init__(self) -> None:
        self.working = False
        self.sent: list[OutgoingEmail] = []

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        if not self.working:
            raise ConnectionRefusedError("mail server down")
        self.sent.append(email)
        return True


@pytest.fixture
def flaky(app: AfterSales) -> FlakyTransport:
    transport = FlakyTransport()
    app.pm.register(transport, name="flaky")
    return transport


def test_cp8_a_transport_failure_keeps_the_email_failed_until_a_retry_sends_it(
    app: AfterSales,
    backend: MemoryBackend,
    clock: FrozenClock,
    scenario: Scenario,
    generated: CouponInfo,
    flaky: FlakyTransport,
) -> None:
    agent, manager = scenario.actors.agent, scenario.actors.manager
    sent = app.coupons.send(scenario.ticket.id, generated.id, actor=agent)  # commits anyway

    (failed,) = app.outbox.emails(pending_only=True, actor=manager)
    assert failed.id == sent.email_id
    assert failed.state is EmailState.FAILED
    assert failed.attempts == 1
    assert failed.last_error == "ConnectionRefusedError: mail server down"
    assert "sent by email" in _trail(backend, scenario.ticket.id)[-1].body

    assert app.outbox.retry(actor=manager)[0].attempts == 2  # still down: kept, counted
    flaky.working = True
    clock.advance(minutes=1)
    (outcome,) = app.outbox.retry(actor=manager)
    assert outcome.state is EmailState.SENT
    assert outcome.attempts == 3
    assert outcome.sent_at == clock.now()
    assert outcome.last_error == ""
    assert [e.id for e in flaky.sent] == [sent.email_id]
    assert app.outbox.emails(pending_only=True, actor=manager) == ()
    assert app.outbox.retry(actor=manager) == ()  # nothing left: nothing sent twice


def test_outbox_retries_pending_emails_only_once_they_are_stale(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    """A process that stopped between commit and delivery leaves PENDING emails."""
    email = OutgoingEmail(
        id="mail-left-behind",
        recipients=("ana@perez.example",),
        subject="Left behind",
        text_body="text",
        html_body="<p>html</p>",
        created_at=clock.now(),
    )
    backend.aftersales_store_mail_enqueue(email)
    manager = scenario.actors.manager
    assert app.outbox.retry(actor=manager) == ()
    clock.advance(minutes=5)
    (outcome,) = app.outbox.retry(actor=manager)
    assert outcome.state is EmailState.SENT
    assert [e.id for e in backend.delivered] == ["mail-left-behind"]


def test_outbox_needs_a_helpdesk_manager(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    with pytest.raises(AccessDenied, match="helpdesk_manager"), assert_unchanged(backend):
        app.outbox.retry(actor=scenario.actors.agent)
    with pytest.raises(AccessDenied, match="helpdesk_manager"):
        app.outbox.emails(actor=scenario.actors.agent)
    with pytest.raises(InvalidInput, match="stale_after"):
        app.outbox.retry(actor=scenario.actors.manager, stale_after=5)  # type: ignore[arg-type]
    assert app.outbox.retry(actor=scenario.actors.system) == ()


class RefusingTransport:
    """A transport that answers False: not accepted, so not sent."""

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        return False


def test_cp8_a_transport_that_does_not_accept_the_email_leaves_it_failed(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, generated: CouponInfo
) -> None:
    app.pm.register(RefusingTransport(), name="refusing")
    app.coupons.send(scenario.ticket.id, generated.id, actor=scenario.actors.agent)
    (email,) = app.outbox.emails(pending_only=True, actor=scenario.actors.manager)
    assert email.state is EmailState.FAILED
    assert "did not accept" in email.last_error


def test_the_standard_scenario_has_a_customer_and_a_follower_with_email(scenario: Scenario) -> None:
    """The sending tests rely on it."""
    assert isinstance(scenario.follower, Partner)
    assert scenario.ticket.follower_ids == (scenario.customer.id, scenario.follower.id)
    assert (scenario.customer.email, scenario.follower.email) == (
        "ana@perez.example",
        "marta@example.com",
    )
