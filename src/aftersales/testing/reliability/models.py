"""Stateful models: random sequences of calls checked against a simple model of the rules.

Refunds and returns have their models in the suite (`tests/test_refunds_properties.py`,
`tests/test_returns_stateful.py`). These two cover coupons (CP-4, CP-9, CP-10) and the
repair life cycle (RP-7 … RP-10), written from the spec, not from the library's own tables.

A machine works in a [`Setting`][aftersales.testing.reliability.setting.Setting] (one backend)
and makes fresh records for each example, so examples never see each other's records; each
example starts at the same moment (the clock is set back), so a failing example replays
the same way while Hypothesis shrinks it. Every refused call must leave the store as it
was (G-3). Run one with `run_model()`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from aftersales.clock import FrozenClock
from aftersales.errors import (
    InvalidCoupon,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
)
from aftersales.models import (
    CouponState,
    DocumentKind,
    InvoiceMethod,
    InvoiceState,
    OperationLine,
    PartAction,
    PartLine,
    RepairState,
)
from aftersales.services.coupons import CODE_EXPIRED, CODE_INVALID, COUPON_EXPIRED, COUPON_USED
from aftersales.testing.reliability.setting import Setting
from aftersales.testing.snapshots import diff

__all__ = ["DATABASE_MODEL_RUNS", "MODEL_RUNS", "CouponModel", "RepairModel", "run_model"]

#: Examples and steps of each model, in the suite and in the figures of the docs.
MODEL_RUNS: dict[str, tuple[int, int]] = {"coupons": (40, 20), "repairs": (40, 25)}

#: The same on a database, where every call is a transaction: fewer, shorter examples.
DATABASE_MODEL_RUNS: dict[str, tuple[int, int]] = {"coupons": (10, 12), "repairs": (10, 12)}


class _Model(RuleBasedStateMachine):
    """Shared plumbing: the setting, and refusals that must change nothing."""

    setting: ClassVar[Setting]

    start: ClassVar[datetime]

    def __init__(self) -> None:
        super().__init__()
        self.s = self.setting
        self.clock.set(self.start)

    @property
    def clock(self) -> FrozenClock:
        clock = self.s.app.clock
        assert isinstance(clock, FrozenClock), "the models need a FrozenClock"
        return clock

    def refused(self, error: type[Exception], call: Any, *, reason: str | None = None) -> None:
        before = self.s.snapshot()
        got: Exception | None = None
        try:
            call()
        except error as refusal:
            got = refusal
        if got is None:
            raise AssertionError(f"expected {error.__name__}, the call went through")
        if reason is not None and getattr(got, "reason", None) != reason:
            raise AssertionError(f"expected the reason {reason!r}: {got}")
        after = self.s.snapshot()
        assert after == before, diff(before, after)

    @property
    def today(self) -> date:
        return self.s.app.clock.now().date()


# -- coupons --------------------------------------------------------------------------------------


@attrs.define
class _Coupon:
    id: str
    code: str
    expires_on: date | None
    used: bool = False


class CouponModel(_Model):
    """Generate, send and redeem coupons of one program with a usage limit and an end date.

    The model: a coupon can be redeemed once, before its own date and the program's end,
    while the program's uses are under its limit; otherwise
    [`InvalidCoupon`][aftersales.errors.InvalidCoupon] with the reason of CP-9. Generation is
    refused once the limit is reached. Invariants: uses never exceed the limit, the ticket shows
    every coupon with the state the model expects.
    """

    coupons = Bundle("coupons")

    def __init__(self) -> None:
        super().__init__()
        self.limit: int | None = None
        self.ends: date | None = None
        self.program_id = ""
        self.ticket_id = self.s.ticket(title="Coupon model").id
        self.uses = 0
        self.made: list[_Coupon] = []

    @initialize(
        limit=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
        days=st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
    )
    def open_program(self, limit: int | None, days: int | None) -> None:
        self.limit = limit
        self.ends = None if days is None else self.today + timedelta(days=days)
        program = self.s.world.coupon_program(
            name=f"Model program {self.s.serial()}", max_usage=limit, date_to=self.ends
        )
        self.program_id = program.id

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.uses >= self.limit

    def _ended(self) -> bool:
        return self.ends is not None and self.ends < self.today

    def _generate(self, expires_in: int | None) -> Any:
        expires_on = None if expires_in is None else self.today + timedelta(days=expires_in)
        generate = self.s.app.coupons.generate
        args = (self.ticket_id, self.program_id)
        call: Callable[[], Any] = lambda: generate(*args, expires_on=expires_on, actor=self.s.agent)  # noqa: E731
        if self._ended() or self._limit_reached():
            self.refused(InvalidOperation, call)
            return multiple()
        info = call()
        coupon = _Coupon(id=info.id, code=info.code, expires_on=expires_on)
        self.made.append(coupon)
        assert info.state is CouponState.VALID
        return coupon

    @rule(target=coupons, expires_in=st.one_of(st.none(), st.integers(min_value=0, max_value=10)))
    def generate(self, expires_in: int | None) -> Any:
        return self._generate(expires_in)

    @rule(expires_in=st.integers(min_value=-5, max_value=-1))
    def generate_with_a_past_date(self, expires_in: int) -> None:
        expiry = self.today + timedelta(days=expires_in)
        self.refused(
            InvalidInput,
            lambda: self.s.app.coupons.generate(
                self.ticket_id, self.program_id, expires_on=expiry, actor=self.s.agent
            ),
        )

    def _refusal(self, coupon: _Coupon) -> str | None:
        if self._ended() or self._limit_reached():
            return CODE_EXPIRED
        if coupon.expires_on is not None and coupon.expires_on < self.today:
            return COUPON_EXPIRED
        if coupon.used:
            return COUPON_USED
        return None

    @rule(coupon=coupons)
    def redeem(self, coupon: _Coupon) -> None:
        why = self._refusal(coupon)
        call: Callable[[], Any] = lambda: self.s.app.coupons.redeem(coupon.code, actor=self.s.agent)  # noqa: E731
        if why is not None:
            self.refused(InvalidCoupon, call, reason=why)
            return
        done = call()
        coupon.used = True
        self.uses += 1
        assert done.program_uses == self.uses
        assert done.coupon.state is CouponState.USED

    @rule()
    def redeem_an_unknown_code(self) -> None:
        self.refused(
            InvalidCoupon,
            lambda: self.s.app.coupons.redeem("NO-SUCH-CODE-0", actor=self.s.agent),
            reason=CODE_INVALID,
        )

    @rule(coupon=coupons)
    def send(self, coupon: _Coupon) -> None:
        call: Callable[[], Any] = lambda: self.s.app.coupons.send(  # noqa: E731
            self.ticket_id, coupon.id, actor=self.s.agent
        )
        if self._refusal(coupon) is not None:
            self.refused(InvalidState, call)
            return
        sent = call()
        assert sent.code == coupon.code
        assert sent.recipients  # the customer and the follower have addresses

    @rule(days=st.integers(min_value=1, max_value=7))
    def time_passes(self, days: int) -> None:
        self.clock.advance(days=days)

    @invariant()
    def uses_never_exceed_the_limit(self) -> None:
        uses = self.s.app.hooks.count_uses(self.program_id)
        assert uses == self.uses
        assert self.limit is None or uses <= self.limit

    @invariant()
    def the_ticket_shows_every_coupon_as_the_model_says(self) -> None:
        shown = self.s.app.coupons.coupons(self.ticket_id, actor=self.s.agent)
        assert [c.id for c in shown] == [c.id for c in self.made]
        for info, coupon in zip(shown, self.made, strict=True):
            if coupon.used:
                expected = CouponState.USED
            elif self._refusal(coupon) is not None:
                expected = CouponState.EXPIRED
            else:
                expected = CouponState.VALID
            assert info.state is expected, (info, coupon)
        codes = [c.code for c in shown]
        assert len(set(codes)) == len(codes)


# -- repairs --------------------------------------------------------------------------------------

_S = RepairState


@attrs.define
class _Repair:
    id: str
    reference: str
    method: InvoiceMethod
    billable: bool
    state: RepairState = _S.DRAFT
    invoice_id: str | None = None
    deleted: bool = False


def _next(repair: _Repair, action: str) -> RepairState | None:
    """RP-8 and RP-10, restated from the spec: the state `action` leads to, or `None`."""
    state, method = repair.state, repair.method
    if action == "confirm" and state is _S.DRAFT:
        return _S.TO_INVOICE if method is InvoiceMethod.BEFORE_REPAIR else _S.CONFIRMED
    if action == "create_invoice" and state is _S.TO_INVOICE:
        return _S.READY if method is InvoiceMethod.BEFORE_REPAIR else _S.DONE
    if action == "start" and state in (_S.CONFIRMED, _S.READY):
        return _S.UNDER_REPAIR
    if action == "end" and state is _S.UNDER_REPAIR:
        if method is InvoiceMethod.AFTER_REPAIR and repair.invoice_id is None:
            return _S.TO_INVOICE
        return _S.DONE
    if action == "cancel" and state not in (_S.DONE, _S.CANCELLED):
        return _S.CANCELLED
    if action == "reset_to_draft" and state is _S.CANCELLED:
        return _S.DRAFT
    return None


_ACTIONS = ("confirm", "create_invoice", "start", "end", "cancel", "reset_to_draft")


class RepairModel(_Model):
    """Random life-cycle actions, updates and deletions on repairs of one ticket.

    The model restates RP-8 (which action leads where), RP-9 (invoicing needs something to
    invoice, and a cancelled repair cancels its draft invoice) and RP-10 (only a draft or
    cancelled repair can be deleted). Invariants: every stored repair is in the state the
    model says, references are unique, the ticket counts exactly the repairs that exist.
    """

    repairs = Bundle("repairs")

    def __init__(self) -> None:
        super().__init__()
        self.ticket_id = self.s.ticket(title="Repair model").id
        self.made: list[_Repair] = []

    @rule(
        target=repairs,
        method=st.sampled_from(list(InvoiceMethod)),
        parts=st.integers(min_value=0, max_value=2),
        operations=st.integers(min_value=0, max_value=1),
    )
    def create(self, method: InvoiceMethod, parts: int, operations: int) -> _Repair:
        sc = self.s.scenario
        made = self.s.app.repairs.create(
            self.ticket_id,
            invoice_method=method,
            parts=[
                PartLine(
                    action=PartAction.ADD if n == 0 else PartAction.REMOVE,
                    product_id=sc.kettle.id,
                    quantity=Decimal(1),
                )
                for n in range(parts)
            ],
            operations=[OperationLine(product_id=sc.repair_service.id)] * operations,
            actor=self.s.agent,
        )
        repair = _Repair(
            id=made.id,
            reference=made.reference,
            method=method,
            billable=parts > 0 or operations > 0,
        )
        self.made.append(repair)
        return repair

    @rule(repair=repairs, action=st.sampled_from(_ACTIONS))
    def act(self, repair: _Repair, action: str) -> None:
        call: Callable[[], Any] = lambda: getattr(self.s.app.repairs, action)(  # noqa: E731
            repair.id, actor=self.s.agent
        )
        if repair.deleted:
            self.refused(NotFound, call)
            return
        target = _next(repair, action)
        if target is None:
            self.refused(InvalidState, call)
            return
        if action == "create_invoice" and not repair.billable:
            self.refused(InvalidOperation, call)
            return
        was = repair.invoice_id
        done = call()
        stored = done.repair if action == "create_invoice" else done
        assert stored.state is target, (action, repair.state, stored.state, target)
        repair.state = target
        if action == "create_invoice":
            repair.invoice_id = done.invoice.id
            assert done.invoice.state is InvoiceState.DRAFT
        elif action == "reset_to_draft":
            repair.invoice_id = None
        elif action == "cancel" and was is not None:
            # RP-9: a draft invoice goes with the repair.
            assert self.s.app.hooks.get_invoice(was).state is InvoiceState.CANCELLED

    @rule(repair=repairs, text=st.text(min_size=1, max_size=30).filter(str.isprintable))
    def update_description(self, repair: _Repair, text: str) -> None:
        call: Callable[[], Any] = lambda: self.s.app.repairs.update(  # noqa: E731
            repair.id, description=text, actor=self.s.agent
        )
        if repair.deleted:
            self.refused(NotFound, call)
        elif repair.state in (_S.DONE, _S.CANCELLED):
            self.refused(InvalidState, call)
        else:
            assert call().description == text

    @rule(repair=repairs)
    def delete(self, repair: _Repair) -> None:
        call: Callable[[], Any] = lambda: self.s.app.repairs.delete(repair.id, actor=self.s.agent)  # noqa: E731
        if repair.deleted:
            self.refused(NotFound, call)
        elif repair.state not in (_S.DRAFT, _S.CANCELLED):
            self.refused(InvalidState, call)
        else:
            call()
            repair.deleted = True

    @invariant()
    def every_repair_is_where_the_model_says(self) -> None:
        hooks = self.s.app.hooks
        for repair in self.made:
            if repair.deleted:
                continue
            stored = hooks.get_repair(repair.id)
            assert stored.state is repair.state, (repair, stored.state)
            assert stored.invoice_id == repair.invoice_id
            assert stored.reference == repair.reference

    @invariant()
    def references_are_unique_and_counted(self) -> None:
        links = [
            link
            for link in self.s.app.hooks.list_links(self.ticket_id)
            if link.kind is DocumentKind.REPAIR
        ]
        alive = [r for r in self.made if not r.deleted]
        assert sorted(link.document_id for link in links) == sorted(r.id for r in alive)
        references = [r.reference for r in self.made]
        assert len(set(references)) == len(references)


def run_model(
    machine: type[_Model],
    setting: Setting,
    *,
    max_examples: int = 25,
    steps: int = 20,
    shrink: bool = True,
    derandomize: bool = False,
) -> None:
    """Run `machine` (`CouponModel` or `RepairModel`) in `setting`.

    `shrink=False` reports the first failing sequence as found, without minimising it;
    `derandomize=True` runs the same sequences on every run (hypothesis's fixed seed).
    """
    phases = tuple(Phase) if shrink else tuple(p for p in Phase if p is not Phase.shrink)
    start = setting.app.clock.now()
    bound = type(machine.__name__, (machine,), {"setting": setting, "start": start})
    try:
        run_state_machine_as_test(
            bound,
            settings=settings(
                max_examples=max_examples,
                stateful_step_count=steps,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                database=None,
                print_blob=False,
                phases=phases,
                derandomize=derandomize,
            ),
        )
    finally:
        if isinstance(setting.app.clock, FrozenClock):
            setting.app.clock.set(start)
