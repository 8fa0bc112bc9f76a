"""A stateful property of returns (RT-4, RT-5, RT-7, RT-9, RL-3, G-3).

Hypothesis plays any sequence of prepare / create / validate / cancel against one delivery
(3 Blenders, 1 Kettle and 2.5 kg of coffee beans) and a simple model of it. After every
step, for every delivery move, returned + reserved ≤ delivered, the store agrees with the
model, and every refused call left the store unchanged.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
)

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import InvalidInput, InvalidOperation, InvalidState, QuantityExceeded
from aftersales.models import MoveState, PickingState
from aftersales.testing import assert_unchanged, build_scenario

START = "2026-11-28T09:00:00+00:00"


def _round(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


class ReturnsMachine(RuleBasedStateMachine):
    """The model: each return's state and quantities per delivery move."""

    returns = Bundle("returns")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock(START)
        self.backend = MemoryBackend()
        world = self.backend.builder(self.clock)
        sc = build_scenario(world)
        self.clock.advance(hours=1)  # newer than the scenario's delivery: the default one
        coffee = world.product(name="Coffee beans", price=Decimal(18), uom="kg", uom_digits=2)
        self.delivery = world.delivery(
            customer=sc.customer,
            lines=[(sc.blender, 3), (sc.kettle, 1), (coffee, Decimal("2.5"))],
            sale_order=sc.order,
        )
        self.ticket_id = sc.ticket.id
        self.agent = sc.actors.agent
        self.app = AfterSales(self.backend, clock=self.clock)
        self.delivered = {m.id: m.quantity for m in self.delivery.moves}
        self.digits = {
            m.id: self.app.hooks.get_product(m.product_id).uom_digits for m in self.delivery.moves
        }
        self.model: dict[str, tuple[PickingState, dict[str, Decimal]]] = {}

    # -- the model --------------------------------------------------------------------------

    def used(self, state: PickingState) -> dict[str, Decimal]:
        total = dict.fromkeys(self.delivered, Decimal(0))
        for ret_state, quantities in self.model.values():
            if ret_state is state:
                for move, quantity in quantities.items():
                    total[move] += quantity
        return total

    def left(self) -> dict[str, Decimal]:
        returned, reserved = self.used(PickingState.DONE), self.used(PickingState.READY)
        return {m: self.delivered[m] - returned[m] - reserved[m] for m in self.delivered}

    # -- rules ------------------------------------------------------------------------------

    @rule()
    def prepare(self) -> None:
        left = self.left()
        if not any(left.values()):
            with (
                pytest.raises(InvalidOperation, match="nothing left to return"),
                assert_unchanged(self.backend),
            ):
                self.app.returns.prepare(self.ticket_id, actor=self.agent)
            return
        draft = self.app.returns.prepare(self.ticket_id, actor=self.agent)
        assert draft.delivery_id == self.delivery.id
        returned, reserved = self.used(PickingState.DONE), self.used(PickingState.READY)
        for line in draft.lines:
            assert line.delivered == self.delivered[line.move_id]
            assert line.returned == returned[line.move_id]
            assert line.reserved == reserved[line.move_id]
            assert line.quantity == left[line.move_id]

    @rule(target=returns, data=st.data())
    def create(self, data: st.DataObject) -> object:
        moves = data.draw(
            st.lists(st.sampled_from(list(self.delivered)), unique=True, max_size=3),
            label="moves",
        )
        asked = {
            move: data.draw(
                st.decimals(
                    min_value=Decimal(-1),
                    max_value=self.delivered[move] + 1,
                    places=self.digits[move] + 1,
                    allow_nan=False,
                    allow_infinity=False,
                ),
                label=f"quantity of {move}",
            )
            for move in moves
        }
        rounded = {m: _round(q, self.digits[m]) for m, q in asked.items()}
        left = self.left()
        if any(q < 0 for q in asked.values()) or not any(q > 0 for q in rounded.values()):
            expected: type[Exception] | None = InvalidInput
        elif any(q > left[m] for m, q in rounded.items()):
            expected = QuantityExceeded
        else:
            expected = None
        if expected is not None:
            try:
                with assert_unchanged(self.backend):
                    self.app.returns.create(
                        self.ticket_id, self.delivery.id, asked, actor=self.agent
                    )
            except expected:
                return multiple()
            raise AssertionError(f"create({asked}) should raise {expected.__name__}")
        ret = self.app.returns.create(self.ticket_id, self.delivery.id, asked, actor=self.agent)
        assert ret.state is PickingState.READY
        assert {m.origin_move_id: m.quantity for m in ret.moves} == {
            m: q for m, q in rounded.items() if q > 0
        }
        self.model[ret.id] = (PickingState.READY, {m: q for m, q in rounded.items() if q > 0})
        return ret.id

    def _finish(self, ret_id: str, state: PickingState) -> None:
        current, quantities = self.model[ret_id]
        call = self.app.returns.validate if state is PickingState.DONE else self.app.returns.cancel
        if current is not PickingState.READY:
            try:
                with assert_unchanged(self.backend):
                    call(ret_id, actor=self.agent)
            except InvalidState:
                return
            raise AssertionError(f"a {current.value} return was finished again")
        self.clock.advance(minutes=1)
        assert call(ret_id, actor=self.agent).state is state
        self.model[ret_id] = (state, quantities)

    @rule(ret_id=returns)
    def validate(self, ret_id: str) -> None:
        self._finish(ret_id, PickingState.DONE)

    @rule(ret_id=returns)
    def cancel(self, ret_id: str) -> None:
        self._finish(ret_id, PickingState.CANCELLED)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def returned_plus_reserved_never_exceed_delivered(self) -> None:
        stored = self.app.hooks.list_returns(self.delivery.id)
        returned = dict.fromkeys(self.delivered, Decimal(0))
        reserved = dict.fromkeys(self.delivered, Decimal(0))
        for ret in stored:
            assert ret.state is self.model[ret.id][0]
            for move in ret.moves:
                assert move.origin_move_id is not None
                if ret.state is PickingState.DONE:
                    assert move.state is MoveState.DONE
                    returned[move.origin_move_id] += move.quantity
                elif ret.state is PickingState.READY:
                    assert move.state is MoveState.CONFIRMED
                    reserved[move.origin_move_id] += move.quantity
        for move_id, delivered in self.delivered.items():
            assert returned[move_id] + reserved[move_id] <= delivered
        assert returned == self.used(PickingState.DONE)
        assert reserved == self.used(PickingState.READY)

    @invariant()
    def ticket_counts_every_return(self) -> None:
        view = self.app.tickets.view(self.ticket_id, actor=self.agent)
        assert view.counts.returns == len(self.model)


ReturnsMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReturnsMachine = ReturnsMachine.TestCase
