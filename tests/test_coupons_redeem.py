"""Redeeming coupon codes (CP-9): the four refusals, the recorded uses, and the usage limit
that holds under concurrent redemption (RL-3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import IdempotencyConflict, InvalidCoupon, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    CouponProgram,
    CouponState,
    DocumentChanged,
    DocumentKind,
    Reward,
    RewardKind,
)
from aftersales.serialization import dumps, loads
from aftersales.services.coupons import (
    CODE_EXPIRED,
    CODE_INVALID,
    COUPON_EXPIRED,
    COUPON_USED,
    CouponInfo,
    CouponRedemption,
)
from aftersales.testing import Scenario, assert_unchanged, build_scenario

TODAY = date(2026, 11, 28)


def _generate(
    app: AfterSales, scenario: Scenario, program: CouponProgram, **kw: object
) -> CouponInfo:
    return app.coupons.generate(
        scenario.ticket.id,
        program.id,
        actor=scenario.actors.agent,
        **kw,  # type: ignore[arg-type]
    )


def test_cp9_redeeming_records_the_use_spends_the_points_and_tells_the_ticket(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    info = _generate(app, scenario, scenario.program)

    done = app.coupons.redeem(info.code, order_reference="S00042", actor=agent)

    assert done.use.coupon_id == info.id
    assert done.use.program_id == scenario.program.id
    assert done.use.points == Decimal(1)
    assert done.use.order_reference == "S00042"
    assert done.use.used_at == clock.now()
    assert done.coupon.points == Decimal(0)
    assert done.coupon.state is CouponState.USED
    assert done.program_uses == 1 == backend.aftersales_loyalty_count_uses(scenario.program.id)
    message = backend.aftersales_store_list_messages(scenario.ticket.id)[-1]
    assert message.body == f"Coupon {info.code} redeemed on order S00042"
    assert (message.document_kind, message.document_id) == (DocumentKind.COUPON, info.id)
    assert loads(dumps(done), CouponRedemption) == done


def test_cp9_surrounding_spaces_of_a_typed_code_are_ignored(
    app: AfterSales, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    done = app.coupons.redeem(f"  {info.code}\t", actor=scenario.actors.agent)
    assert done.coupon.id == info.id


def test_cp9_an_unknown_code_is_invalid(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    with (
        pytest.raises(InvalidCoupon, match="this code is invalid") as caught,
        assert_unchanged(backend),
    ):
        app.coupons.redeem("044NOSUCHCODE", actor=scenario.actors.agent)
    assert (caught.value.coupon_code, caught.value.reason) == ("044NOSUCHCODE", CODE_INVALID)


def test_cp9_codes_are_matched_exactly(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    with pytest.raises(InvalidCoupon, match=CODE_INVALID), assert_unchanged(backend):
        app.coupons.redeem(info.code.lower(), actor=scenario.actors.agent)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (42, "expected a coupon code"),
        ("", "blank"),
        ("a b", "no spaces"),
        ("x" * 65, "longer than 64"),
    ],
)
def test_cp9_rl4_a_malformed_code_is_bad_input(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario, code: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught, assert_unchanged(backend):
        app.coupons.redeem(code, actor=scenario.actors.agent)  # type: ignore[arg-type]
    assert caught.value.field == "code"


def test_cp9_a_coupon_past_its_expiration_date_is_expired(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program, expires_on=TODAY)
    clock.advance(days=1)
    with (
        pytest.raises(InvalidCoupon, match="this coupon is expired") as caught,
        assert_unchanged(backend),
    ):
        app.coupons.redeem(info.code, actor=scenario.actors.agent)
    assert caught.value.reason == COUPON_EXPIRED


def test_cp9_a_coupon_can_be_used_on_its_last_day(
    app: AfterSales, clock: FrozenClock, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program, expires_on=TODAY + timedelta(days=1))
    clock.advance(days=1, hours=14)  # 23:00 on the last day
    assert app.coupons.redeem(info.code, actor=scenario.actors.agent).program_uses == 1


def test_cp9_a_used_coupon_has_already_been_used(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    app.coupons.redeem(info.code, actor=scenario.actors.agent)
    with (
        pytest.raises(InvalidCoupon, match="this coupon has already been used") as caught,
        assert_unchanged(backend),
    ):
        app.coupons.redeem(info.code, actor=scenario.actors.agent)
    assert caught.value.reason == COUPON_USED


@pytest.mark.parametrize("end", ["date_to", "archived"])
def test_cp9_a_coupon_of_an_ended_program_is_an_expired_code(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, end: str
) -> None:
    world = backend.builder(clock)
    program = world.coupon_program(name="Short", date_to=TODAY)
    info = _generate(app, scenario, program)
    if end == "date_to":
        clock.advance(days=1)
    else:
        import attrs

        backend.store.put("programs", program.id, attrs.evolve(program, active=False))
    with (
        pytest.raises(InvalidCoupon, match="this code is expired") as caught,
        assert_unchanged(backend),
    ):
        app.coupons.redeem(info.code, actor=scenario.actors.agent)
    assert caught.value.reason == CODE_EXPIRED


def test_cp9_the_program_usage_limit_makes_further_codes_expired(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Two only", max_usage=2)
    coupons = [_generate(app, scenario, program) for _ in range(3)]
    agent = scenario.actors.agent
    for coupon in coupons[:2]:
        app.coupons.redeem(coupon.code, actor=agent)
    with pytest.raises(InvalidCoupon, match="this code is expired"), assert_unchanged(backend):
        app.coupons.redeem(coupons[2].code, actor=agent)


def test_cp9_the_refusals_are_checked_program_first(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    """A used coupon of an ended program: the program's end is what the customer hears."""
    program = backend.builder(clock).coupon_program(name="Short", date_to=TODAY)
    info = _generate(app, scenario, program, expires_on=TODAY)
    app.coupons.redeem(info.code, actor=scenario.actors.agent)
    clock.advance(days=1)
    with pytest.raises(InvalidCoupon, match=CODE_EXPIRED):
        app.coupons.redeem(info.code, actor=scenario.actors.agent)


def test_cp9_a_coupon_worth_several_uses_is_used_until_its_points_run_out(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(
        name="Two points a use",
        reward=Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(5), required_points=Decimal(2)),
    )
    info = _generate(app, scenario, program)
    coupon = backend.aftersales_loyalty_get_coupon(info.id, lock=False)
    assert coupon is not None
    import attrs

    backend.store.put("coupons", coupon.id, attrs.evolve(coupon, points=Decimal(5)))
    agent = scenario.actors.agent
    remaining = [app.coupons.redeem(info.code, actor=agent).coupon.points for _ in range(2)]
    assert remaining == [Decimal(3), Decimal(1)]
    with pytest.raises(InvalidCoupon, match=COUPON_USED):
        app.coupons.redeem(info.code, actor=agent)


def test_cp9_a_coupon_not_from_a_ticket_is_redeemed_without_a_trail(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    from aftersales.models import Coupon

    backend.store.put(
        "coupons",
        "coupon-web",
        Coupon(
            id="coupon-web",
            code="WEB-1",
            program_id=scenario.program.id,
            partner_id=scenario.customer.id,
            points=Decimal(1),
            created_at=clock.now(),
        ),
    )
    seen: list[DocumentChanged] = []

    class Subscriber:
        from aftersales.hookspecs import hookimpl

        @hookimpl
        def aftersales_on_document_changed(self, event: DocumentChanged) -> None:
            seen.append(event)

    app.pm.register(Subscriber())
    app.coupons.redeem("WEB-1", actor=scenario.actors.agent)
    assert [(e.ticket_id, e.change, e.document_id) for e in seen] == [
        (None, "redeemed", "coupon-web")
    ]
    assert [a.action for a in backend.aftersales_store_audit_list(None)] == ["coupon redeemed"]


def test_rl2_redeem_with_the_same_key_uses_the_coupon_once(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    info = _generate(app, scenario, scenario.program)
    first = app.coupons.redeem(info.code, actor=agent, idempotency_key="pos-7")
    with assert_unchanged(backend):
        again = app.coupons.redeem(info.code, actor=agent, idempotency_key="pos-7")
    assert again == first
    with pytest.raises(IdempotencyConflict), assert_unchanged(backend):
        app.coupons.redeem(info.code, order_reference="S1", actor=agent, idempotency_key="pos-7")


def test_cp9_order_reference_is_checked(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    with pytest.raises(InvalidInput, match="order_reference"), assert_unchanged(backend):
        app.coupons.redeem(info.code, order_reference="S1\nS2", actor=scenario.actors.agent)


# -- RL-3: concurrency -----------------------------------------------------------------------------


def _race(workers: int, task: Callable[[int], None]) -> None:
    barrier = threading.Barrier(workers)

    def run(n: int) -> None:
        barrier.wait()
        task(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_cp9_rl3_one_code_redeemed_by_many_threads_is_used_once(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem(_n: int) -> None:
        try:
            app.coupons.redeem(info.code, actor=scenario.actors.agent)
            result = "ok"
        except InvalidCoupon as exc:
            result = exc.reason
        with lock:
            outcomes.append(result)

    _race(16, redeem)

    assert sorted(outcomes) == ["ok"] + [COUPON_USED] * 15
    assert backend.aftersales_loyalty_count_uses(scenario.program.id) == 1


def test_cp9_rl3_the_usage_limit_holds_when_many_codes_are_redeemed_at_once(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    program = backend.builder(clock).coupon_program(name="Three only", max_usage=3)
    codes = [_generate(app, scenario, program).code for _ in range(12)]
    successes: list[str] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def redeem(n: int) -> None:
        try:
            app.coupons.redeem(codes[n], actor=scenario.actors.agent)
        except InvalidCoupon as exc:
            with lock:
                refusals.append(exc.reason)
        else:
            with lock:
                successes.append(codes[n])

    _race(12, redeem)

    assert len(successes) == 3 == backend.aftersales_loyalty_count_uses(program.id)
    assert refusals == [CODE_EXPIRED] * 9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    max_usage=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
    attempts=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=15),
)
def test_cp9_property_uses_never_exceed_the_limit_nor_the_coupons(
    max_usage: int | None, attempts: list[int]
) -> None:
    """Whatever order codes are tried in (each index is one of six coupons), a coupon is
    used at most once and the program at most ``max_usage`` times."""
    backend = MemoryBackend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    app = AfterSales(backend, clock=clock)
    scenario = build_scenario(backend.builder(clock))
    program = backend.builder(clock).coupon_program(name="Limited", max_usage=max_usage)
    codes = [_generate(app, scenario, program).code for _ in range(6)]
    used: set[str] = set()
    for index in attempts:
        limit_hit = max_usage is not None and len(used) >= max_usage
        reason = ""
        try:
            app.coupons.redeem(codes[index], actor=scenario.actors.agent)
        except InvalidCoupon as exc:
            reason = exc.reason
        if reason:
            assert reason == (CODE_EXPIRED if limit_hit else COUPON_USED)
        else:
            assert codes[index] not in used
            used.add(codes[index])
    uses = backend.aftersales_loyalty_count_uses(program.id)
    assert uses == len(used) <= (max_usage or 6)
    expected = min(len(set(attempts)), max_usage or 6)
    assert uses == expected


class LockSpy:
    """Answers nothing; records whether the service asked for locks (RL-3)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool]] = []

    @hookimpl(tryfirst=True)
    def aftersales_loyalty_find_coupon(self, code: str, lock: bool) -> None:
        self.asked.append(("coupon", lock))

    @hookimpl(tryfirst=True)
    def aftersales_loyalty_get_program(self, program_id: str, lock: bool) -> None:
        self.asked.append(("program", lock))


def test_cp9_rl3_redeem_locks_the_coupon_and_its_program_before_counting(
    app: AfterSales, scenario: Scenario
) -> None:
    info = _generate(app, scenario, scenario.program)
    spy = LockSpy()
    app.pm.register(spy, name="lock-spy")
    app.coupons.redeem(info.code, actor=scenario.actors.agent)
    # a first look finds the coupon's ticket (AC-3); then both are locked to count the use
    assert spy.asked[:3] == [("coupon", False), ("coupon", True), ("program", True)]
