"""The kit's loyalty contract against a real Tryton database (in process), the coupon
service over Tryton's promotions, and one coupon generated and redeemed over XML-RPC.

The memory backend serves the helpdesk, sales and store ports, Tryton the loyalty port
(``AfterSales(store, plugins=[TrytonBackend(...)])``). What Tryton cannot do is skipped
with the reason.
"""

from __future__ import annotations

import functools
import itertools
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from proteus import Model

from aftersales import AfterSales
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.clock import FrozenClock
from aftersales.errors import BackendError, DuplicateKey, InvalidCoupon, InvalidInput, NotFound
from aftersales.models import (
    Coupon,
    CouponRequest,
    CouponRule,
    CouponState,
    Money,
    ProgramTrigger,
    ProgramType,
    Reward,
    RewardKind,
    Service,
)
from aftersales.testing.conformance import LoyaltyContract
from aftersales.testing.conformance._kit import Kit, run_threads
from aftersales.testing.scenario import AGENT, MANAGER
from aftersales_tryton import coupons
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from aftersales_tryton.connection import in_process
from aftersales_tryton.errors import TrytonRefused
from aftersales_tryton.world import WorldBuilder
from conftest import Tryton
from test_tryton_accounting import TrytonKit
from tryton_server import Database

_COPIES = itertools.count(1)


@pytest.fixture
def fresh_tryton(tryton_template: Database, tryton_db: Database) -> Tryton:
    """A copy of the template of its own for one test (the contract reuses its codes from
    test to test), beside the module's database (one trytond configuration)."""
    name = f"{tryton_db.name}_{next(_COPIES)}"
    shutil.copyfile(tryton_template.file, tryton_db.directory / f"{name}.sqlite")
    config = in_process(name, tryton_db.config_file)
    return Tryton(config, tryton_db, WorldBuilder(config, tryton_db.accounting))


def _not_on_tryton(why: str) -> Any:
    def test(self: Any) -> None:
        pytest.skip(why)

    return test


class TestTrytonLoyalty(LoyaltyContract):
    @pytest.fixture
    def kit(self, fresh_tryton: Tryton, aftersales_clock: FrozenClock) -> Kit:
        erp = TrytonBackend(config=fresh_tryton.config)
        return TrytonKit(MemoryBackend(), erp, fresh_tryton, aftersales_clock)

    test_programs_round_trip_in_a_stable_order = _not_on_tryton(
        "a Tryton promotion has one formula on unit prices and one condition: no free "
        "product, no capped percentage, no two rules, no category rule (the representable "
        "round trip is tested below)"
    )


# -- the mapping: what a Tryton promotion keeps, and what it cannot ----------------------

_EUR5 = Money(amount=Decimal(5), currency="EUR")


def _kit(tryton: Tryton, clock: FrozenClock) -> TrytonKit:
    return TrytonKit(MemoryBackend(), TrytonBackend(config=tryton.config), tryton, clock)


def test_a_representable_program_round_trips_through_trytons_fields(
    fresh_tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    kit = _kit(fresh_tryton, aftersales_clock)
    kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
    apology = kit.world.coupon_program(
        name="10% on kettles",
        reward=Reward(
            kind=RewardKind.PERCENTAGE,
            percent=Decimal("12.5"),
            product_ids=frozenset({kettle.id}),
            required_points=Decimal(2),
        ),
        rules=[CouponRule(minimum_quantity=Decimal(2), product_ids=frozenset({kettle.id}))],
        date_to=date(2027, 6, 30),
        max_usage=100,
    )
    spring = kit.world.coupon_program(
        name="Spring sale",
        rules=[
            CouponRule(
                minimum_amount=Money(amount=Decimal("50.00"), currency="EUR"),
                amount_tax_included=False,
            )
        ],
        active=False,
        program_type=ProgramType.PROMOTION,
        trigger=ProgramTrigger.AUTO,
    )
    assert kit.read(lambda h: list(h.list_programs())) == [apology, spring]
    assert kit.read(lambda h: h.get_program(spring.id, lock=True)) == spring
    config = fresh_tryton.config
    with config.set_context(active_test=False):
        promotion, sale = Model.get("sale.promotion", config=config).find([], order=[("id", "ASC")])
    assert (str(promotion.id), promotion.formula) == (apology.id, "unit_price * 0.875")
    assert (promotion.quantity, promotion.unit.name) == (2.0, "Unit")
    assert [str(p.id) for p in promotion.products] == [kettle.id]
    assert promotion.end_date == date(2027, 6, 30)
    assert [c.number_of_use for c in promotion.coupons] == [0]
    assert (sale.active, sale.amount, sale.untaxed_amount) == (False, Decimal("50.00"), True)
    assert list(sale.coupons) == []


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"reward": Reward(kind=RewardKind.FIXED_AMOUNT, amount=_EUR5)}, "rewards.kind"),
        (
            {"reward": Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10), max_discount=_EUR5)},
            "rewards.max_discount",
        ),
        ({"rules": [CouponRule(), CouponRule()]}, "rules"),
        ({"rules": [CouponRule(categories=frozenset({"Kettles"}))]}, "rules.categories"),
        ({"code": "SPRING"}, "code"),
        ({"trigger": ProgramTrigger.AUTO}, "program_type"),
        ({"currency": "XTS"}, "currency"),
    ],
)
def test_what_a_promotion_cannot_keep_is_refused_and_nothing_is_made(
    tryton: Tryton, aftersales_clock: FrozenClock, details: dict[str, Any], field: str
) -> None:
    kit = _kit(tryton, aftersales_clock)
    promotions = Model.get("sale.promotion", config=tryton.config)
    with tryton.config.set_context(active_test=False):
        before = len(promotions.find([]))
    with pytest.raises(InvalidInput) as refused:
        kit.world.coupon_program(name="Unkept", **details)
    assert refused.value.field == field
    with tryton.config.set_context(active_test=False):
        assert len(promotions.find([])) == before


def test_promotions_made_in_tryton_that_are_no_percentage_are_left_out(
    tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    kit = _kit(tryton, aftersales_clock)
    made = coupons.create_program(tryton.config, "Round prices", formula="unit_price - 1")
    with pytest.raises(NotFound):
        kit.read(lambda h: h.get_program(str(made.promotion_id)))
    listed = kit.read(lambda h: [p.id for p in h.list_programs()])
    assert str(made.promotion_id) not in listed


def _numbers(tryton: Tryton) -> int:
    with tryton.config.set_context(active_test=False):
        return len(Model.get("sale.promotion.coupon.number", config=tryton.config).find([]))


def _issue(request: CouponRequest, hooks: Any) -> Coupon:
    coupon: Coupon = hooks.issue_coupon(request)
    return coupon


def test_an_issue_tryton_cannot_serve_is_refused_and_no_number_is_made(
    tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    kit = _kit(tryton, aftersales_clock)
    by_code = kit.world.coupon_program(name="By code")
    auto = kit.world.coupon_program(
        name="Auto", program_type=ProgramType.PROMOTION, trigger=ProgramTrigger.AUTO
    )
    party = kit.world.customer(name="Eva")
    now = aftersales_clock.now()

    def request(program: str, partner: str, **more: Any) -> CouponRequest:
        fields = {"code": "NEVER-MADE", "points": Decimal(1), "at": now, "reference": "op"}
        return CouponRequest(program_id=program, partner_id=partner, **{**fields, **more})

    before = _numbers(tryton)
    refusals: list[tuple[CouponRequest, type[Exception], str]] = [
        (request(by_code.id, "partner-1"), InvalidInput, "not a Tryton party"),
        (request(auto.id, party.id), InvalidInput, "with a coupon rule"),
        (request("program-x", party.id), InvalidInput, "with a coupon rule"),
        # Tryton keeps an expired number read-only: it cannot be made (not a taken code).
        (
            request(by_code.id, party.id, expires_on=date(2020, 1, 31)),
            TrytonRefused,
            "not allowed to modify",
        ),
    ]
    for wanted, error, match in refusals:
        with pytest.raises(error, match=match):
            kit.write(functools.partial(_issue, wanted))
    assert _numbers(tryton) == before
    assert kit.read(lambda h: h.find_coupon("NEVER-MADE")) is None


def test_a_redemption_of_more_points_than_left_adds_no_sale_in_tryton(
    tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    kit = _kit(tryton, aftersales_clock)
    program = kit.world.coupon_program(name="Short")
    party = kit.world.customer(name="Olga")
    now = aftersales_clock.now()
    request = CouponRequest(
        program_id=program.id,
        partner_id=party.id,
        code="SHORT-IN-TRYTON",
        points=Decimal(1),
        at=now,
        reference="op-short-issue",
    )
    coupon = kit.write(functools.partial(_issue, request))
    sales = Model.get("sale.sale", config=tryton.config)
    before = len(sales.find([]))
    with pytest.raises(BackendError, match="SHORT-IN-TRYTON has 1 points left"):
        kit.write(lambda h: h.redeem(coupon.id, Decimal(2), "S-1", now, "op-short"))
    assert len(sales.find([])) == before
    assert kit.read(lambda h: h.get_coupon(coupon.id)) == coupon


def test_a_number_made_in_trytons_client_is_not_a_coupon_of_the_library(
    tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    kit = _kit(tryton, aftersales_clock)
    program = kit.world.coupon_program(name="Counter")
    (rule,) = Model.get("sale.promotion", config=tryton.config)(int(program.id)).coupons
    made = coupons.issue_coupon(tryton.config, rule.id, "AT-THE-COUNTER")
    assert kit.read(lambda h: h.find_coupon("AT-THE-COUNTER")) is None
    with pytest.raises(NotFound):
        kit.read(lambda h: h.get_coupon(str(made.id)))
    party = kit.world.customer(name="Iris")
    request = CouponRequest(
        program_id=program.id,
        partner_id=party.id,
        code="AT-THE-COUNTER",
        points=Decimal(1),
        at=aftersales_clock.now(),
        reference="op-counter",
    )
    with pytest.raises(DuplicateKey, match="coupon code AT-THE-COUNTER"):
        kit.write(lambda h: h.issue_coupon(request))


# -- the coupon service over Tryton --------------------------------------------------------


def _desk(
    tryton: Tryton, clock: FrozenClock, path: Path
) -> tuple[AfterSales, SqlBackend, TrytonBuilder, str]:
    """An application over a SQL store and Tryton, with a ticket of a team that enabled
    coupons through the settings (Tryton's sale_promotion_coupon is activated)."""
    store = SqlBackend(f"sqlite:///{path / 'aftersales.db'}")
    erp = TrytonBackend(config=tryton.config)
    app = AfterSales(store, clock=clock, plugins=[erp])
    world = TrytonBuilder(erp, tryton.accounting, store.builder(clock))
    team = world.team(name="Support")
    app.settings.configure(team.id, enable=[Service.COUPONS], actor=MANAGER)
    ana = world.customer(name="Ana Pérez", email="ana@perez.example")
    ticket = world.ticket(team=team, title="Late delivery", customer=ana)
    return app, store, world, ticket.id


@pytest.fixture
def desk(
    tryton: Tryton, aftersales_clock: FrozenClock, tmp_path: Path
) -> Iterator[tuple[AfterSales, SqlBackend, TrytonBuilder, str]]:
    made = _desk(tryton, aftersales_clock, tmp_path)
    yield made
    made[1].close()


def test_coupons_are_enabled_on_trytons_module(
    desk: tuple[AfterSales, SqlBackend, TrytonBuilder, str], tryton: Tryton
) -> None:
    app, _store, _world, ticket_id = desk
    states = Model.get("ir.module", config=tryton.config).find(
        [("name", "=", "sale_promotion_coupon")]
    )
    assert [m.state for m in states] == ["activated"]
    assert app.pm.owners()["loyalty"] == "tryton"
    team_id = app.tickets.view(ticket_id, actor=AGENT).ticket.team_id
    assert Service.COUPONS in app.settings.team_settings(team_id, actor=MANAGER).services


def test_cp9_cp10_redemption_over_tryton_stops_at_the_usage_limit(
    desk: tuple[AfterSales, SqlBackend, TrytonBuilder, str], tryton: Tryton
) -> None:
    """The coupon service generates codes Tryton keeps as numbers and redeems them as sales
    carrying the number, up to the program's limit."""
    app, _store, world, ticket_id = desk
    limited = world.coupon_program(name="Two uses", max_usage=2)
    assert limited in app.coupons.programs(ticket_id, actor=AGENT)
    codes = [app.coupons.generate(ticket_id, limited.id, actor=AGENT).code for _ in range(3)]
    first = app.coupons.redeem(codes[0], order_reference="S00042", actor=AGENT)
    assert (first.program_uses, first.coupon.state) == (1, CouponState.USED)
    sale = Model.get("sale.sale", config=tryton.config)(int(first.use.id))
    assert (sale.reference, [n.number for n in sale.coupons]) == ("S00042", [codes[0]])
    assert coupons.evaluate(tryton.config, codes[0], sale.party.id).uses == 1  # Tryton's count
    with pytest.raises(InvalidCoupon, match="this coupon has already been used"):
        app.coupons.redeem(codes[0], actor=AGENT)
    assert app.coupons.redeem(codes[1], actor=AGENT).program_uses == 2
    with pytest.raises(InvalidCoupon, match="this code is expired"):
        app.coupons.redeem(codes[2], actor=AGENT)
    assert app.hooks.count_uses(limited.id) == 2
    assert [c.state for c in app.coupons.coupons(ticket_id, actor=AGENT)] == [
        CouponState.USED,
        CouponState.USED,
        CouponState.EXPIRED,
    ]


def test_a_use_past_the_limit_of_a_caller_that_counted_before_is_taken_back(
    desk: tuple[AfterSales, SqlBackend, TrytonBuilder, str], tryton: Tryton
) -> None:
    """A caller that counted the uses before another's sale (what two processes over a
    PostgreSQL store can do: Tryton holds no lock) is refused by the port, which counts
    again after its own sale and deletes it."""
    app, _store, world, ticket_id = desk
    limited = world.coupon_program(name="One use", max_usage=1)
    first, late = (app.coupons.generate(ticket_id, limited.id, actor=AGENT) for _ in range(2))
    app.coupons.redeem(first.code, actor=AGENT)
    sales = Model.get("sale.sale", config=tryton.config)
    before = len(sales.find([]))
    now = app.clock.now()
    with pytest.raises(InvalidCoupon, match="this code is expired"):
        app.hooks.redeem(late.id, Decimal(1), "S-LATE", now, "op-late")
    assert len(sales.find([])) == before
    assert app.hooks.count_uses(limited.id) == 1
    assert app.hooks.get_coupon(late.id).points == Decimal(1)


def test_a_second_spend_of_one_coupon_by_a_caller_that_read_it_before_is_taken_back(
    tryton: Tryton, aftersales_clock: FrozenClock
) -> None:
    """Two callers read the coupon with one point left; the second sale would spend a point
    the coupon no longer has: the port deletes it."""

    class Stale(TrytonBackend):
        stale: Coupon | None = None

        def _coupon(self, coupon_id: str) -> Coupon | None:
            if self.stale is not None:
                coupon, self.stale = self.stale, None
                return coupon
            return super()._coupon(coupon_id)

    erp = Stale(config=tryton.config)
    kit = TrytonKit(MemoryBackend(), erp, tryton, aftersales_clock)
    program = kit.world.coupon_program(name="Once")
    party = kit.world.customer(name="Nora")
    now = aftersales_clock.now()
    request = CouponRequest(
        program_id=program.id,
        partner_id=party.id,
        code="ONCE-ONLY",
        points=Decimal(1),
        at=now,
        reference="op-once",
    )
    coupon = kit.write(functools.partial(_issue, request))
    kit.write(lambda h: h.redeem(coupon.id, Decimal(1), "S-1", now, "op-first"))
    sales = Model.get("sale.sale", config=tryton.config)
    before = len(sales.find([]))
    erp.stale = coupon  # what the second caller read before the first use
    with pytest.raises(InvalidCoupon, match="this coupon has already been used"):
        kit.write(lambda h: h.redeem(coupon.id, Decimal(1), "S-2", now, "op-second"))
    assert len(sales.find([])) == before
    spent = kit.read(lambda h: h.get_coupon(coupon.id))
    assert (spent.points, spent.operation_ref) == (Decimal(0), "op-first")


def test_rl3_the_stores_unit_of_work_holds_the_cap_tryton_does_not(
    tryton: Tryton, aftersales_clock: FrozenClock, tmp_path: Path
) -> None:
    """Four threads redeem four coupons of a two-use program: the SQLite store's writing
    unit (BEGIN IMMEDIATE) serializes count and use, so Tryton ends with two uses."""
    app, store, world, ticket_id = _desk(tryton, aftersales_clock, tmp_path)
    try:
        limited = world.coupon_program(name="Two uses, four callers", max_usage=2)
        codes = [app.coupons.generate(ticket_id, limited.id, actor=AGENT).code for _ in range(4)]

        def redeem(i: int) -> str:
            try:
                app.coupons.redeem(codes[i], actor=AGENT)
            except InvalidCoupon:
                return "refused"
            return "done"

        assert sorted(run_threads(4, redeem)) == ["done", "done", "refused", "refused"]
        assert app.hooks.count_uses(limited.id) == 2
    finally:
        store.close()


# -- over XML-RPC --------------------------------------------------------------------------


def test_a_coupon_is_generated_and_redeemed_over_rpc(
    tryton_rpc: Tryton, aftersales_clock: FrozenClock, tmp_path: Path
) -> None:
    app, store, world, ticket_id = _desk(tryton_rpc, aftersales_clock, tmp_path)
    try:
        program = world.coupon_program(name="Remote apology")
        coupon = app.coupons.generate(ticket_id, program.id, actor=AGENT)
        done = app.coupons.redeem(coupon.code, order_reference="S-RPC", actor=AGENT)
        assert (done.program_uses, done.coupon.state) == (1, CouponState.USED)
        found = coupons.find_coupon(tryton_rpc.config, coupon.code)
        assert found is not None and str(found.id) == coupon.id
        assert app.hooks.count_uses(program.id) == 1
    finally:
        store.close()
