"""Refund invariants: never credit more than invoiced (RF-7) under random operations and
threads (RL-3), idempotency (RL-2), atomicity (RL-1, G-3) and serialization."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from aftersales import AfterSales, CreditMethod, FrozenClock, hookimpl
from aftersales.backends.memory import MemoryBackend
from aftersales.erp import settle
from aftersales.errors import (
    AfterSalesError,
    BackendError,
    IdempotencyConflict,
    InvalidOperation,
    InvalidState,
    QuantityExceeded,
)
from aftersales.models import (
    DocumentLink,
    Invoice,
    InvoiceState,
    MatchKind,
    Money,
    PaymentState,
    TicketMessage,
)
from aftersales.models.money import MINOR_UNITS
from aftersales.models.products import compute_line
from aftersales.serialization import converter, dumps, loads
from aftersales.services.refunds import RefundResult
from aftersales.testing import Scenario, assert_unchanged
from tests.refunds_support import AGENT, Desk, line, make_desk, money

START = "2026-11-28T09:00:00+00:00"


def _fresh() -> Desk:
    clock = FrozenClock(START)
    backend = MemoryBackend()
    return make_desk(AfterSales(backend, clock=clock), backend, clock)


def _minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-MINOR_UNITS[currency])


# -- "never credit more than invoiced": a simple property ----------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    invoiced=st.integers(min_value=1, max_value=100_000),
    asked=st.lists(st.integers(min_value=1, max_value=60_000), min_size=1, max_size=6),
)
def test_rf7_property_credits_never_exceed_the_invoice(
    currency: str, invoiced: int, asked: list[int]
) -> None:
    desk = _fresh()
    item = desk.world.product(name="Item", price=_minor(invoiced, currency), currency=currency)
    invoice = desk.invoice([(item, 1)])
    refunds = desk.app.refunds
    credited = 0
    for units in asked:
        credit = [line(_minor(units, currency), currency=currency)]
        if credited + units <= invoiced:
            note = refunds.reverse(desk.ticket.id, invoice.id, lines=credit, actor=AGENT)
            refunds.confirm(note.credit_note.id, actor=AGENT)
            credited += units
        else:
            with pytest.raises(QuantityExceeded), assert_unchanged(desk.backend):
                refunds.reverse(desk.ticket.id, invoice.id, lines=credit, actor=AGENT)
    after = desk.stored(invoice.id)
    assert after.residual.amount == _minor(invoiced - credited, currency)
    expected = (
        PaymentState.NOT_PAID
        if credited == 0
        else PaymentState.REVERSED
        if credited == invoiced
        else PaymentState.PARTIAL
    )
    assert after.payment_state is expected


# -- a state machine of random refund operations -------------------------------------------------


class RefundMachine(RuleBasedStateMachine):
    """Random reverses, edits, confirms and cancels on one invoice, checked after each step.

    Invariants: the live credit notes never exceed the invoice (RF-7); the invoice's residual
    and payment state are what its matches say (RF-4b); money is conserved: what the customer
    still owes minus their outstanding credit is always invoiced - paid - credited; every
    refused call leaves the store as it was (G-3).
    """

    def __init__(self) -> None:
        super().__init__()
        self.desk = _fresh()
        self.currency = "EUR"
        self.invoice: Invoice | None = None
        self.paid = Decimal(0)
        self.credit_given = Decimal(0)

    @initialize(
        currency=st.sampled_from(["EUR", "JPY", "KWD"]),
        lines=st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=50_000),
                st.integers(min_value=1, max_value=5),
                st.sampled_from([(), ("21%",), ("10% incl",), ("5%",)]),
            ),
            min_size=1,
            max_size=3,
        ),
        paid_share=st.sampled_from([0, 0, 25, 50, 100]),
    )
    def make_invoice(
        self,
        currency: str,
        lines: list[tuple[int, int, tuple[str, ...]]],
        paid_share: int,
    ) -> None:
        world = self.desk.world
        specs: list[Any] = []
        for n, (units, quantity, taxes) in enumerate(lines):
            product = world.product(
                name=f"Item {n}", price=_minor(units, currency), currency=currency, taxes=taxes
            )
            specs.append((product, quantity))
        total = Money.sum(
            (compute_line(Decimal(q), p.price, p.taxes).total for p, q in specs), currency
        )
        paid: Decimal | bool = False
        if paid_share:
            share = Money.of(total.amount * paid_share / 100, currency)
            paid = True if paid_share == 100 else (share.amount if not share.is_zero() else False)
        self.invoice = self.desk.invoice(specs, paid=paid)
        self.currency = currency
        self.paid = self.invoice.total.amount - self.invoice.residual.amount

    # -- helpers ------------------------------------------------------------------------------

    @property
    def inv(self) -> Invoice:
        assert self.invoice is not None
        return self.desk.stored(self.invoice.id)

    def notes(self) -> list[Invoice]:
        found: list[Invoice] = self.desk.backend.store.by_index("invoices", "reversed", self.inv.id)
        return found

    def drafts(self) -> list[Invoice]:
        return [n for n in self.notes() if n.state is InvoiceState.DRAFT]

    def left(self) -> Decimal:
        live = [n for n in self.notes() if n.state is not InvoiceState.CANCELLED]
        return self.inv.total.amount - sum((n.total.amount for n in live), Decimal(0))

    def attempt(self, call: Callable[[], Any], allowed: bool, error: type[Exception]) -> Any:
        if allowed:
            return call()
        with pytest.raises(error), assert_unchanged(self.desk.backend):
            call()
        return None

    def credit_lines(self, units: int) -> list[Any]:
        return [line(_minor(units, self.currency), currency=self.currency)]

    # -- rules --------------------------------------------------------------------------------

    @rule(units=st.integers(min_value=1, max_value=200_000))
    def reverse_partial(self, units: int) -> None:
        amount = _minor(units, self.currency)
        self.attempt(
            lambda: self.desk.app.refunds.reverse(
                self.desk.ticket.id, self.inv.id, lines=self.credit_lines(units), actor=AGENT
            ),
            amount <= self.left(),
            QuantityExceeded,
        )

    @rule(method=st.sampled_from([CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE]))
    def reverse_full(self, method: CreditMethod) -> None:
        invoice = self.inv
        error: type[Exception] = InvalidOperation
        if invoice.residual.is_zero():
            allowed = False
        else:
            allowed, error = invoice.total.amount <= self.left(), QuantityExceeded
        result = self.attempt(
            lambda: self.desk.app.refunds.reverse(
                self.desk.ticket.id, invoice.id, method=method, actor=AGENT
            ),
            allowed,
            error,
        )
        if result is not None:
            assert isinstance(result, RefundResult)
            self.credit_given += result.customer_credit.amount
            assert result.invoice.payment_state is PaymentState.REVERSED

    @precondition(lambda self: self.invoice is not None and bool(self.drafts()))
    @rule(pick=st.integers(min_value=0), units=st.integers(min_value=1, max_value=200_000))
    def edit_draft(self, pick: int, units: int) -> None:
        drafts = self.drafts()
        draft = drafts[pick % len(drafts)]
        room = self.left() + draft.total.amount
        self.attempt(
            lambda: self.desk.app.refunds.update_draft(
                draft.id, lines=self.credit_lines(units), actor=AGENT
            ),
            _minor(units, self.currency) <= room,
            QuantityExceeded,
        )

    @precondition(lambda self: self.invoice is not None and bool(self.drafts()))
    @rule(pick=st.integers(min_value=0))
    def confirm(self, pick: int) -> None:
        drafts = self.drafts()
        draft = drafts[pick % len(drafts)]
        residual_before = self.inv.residual
        result = self.desk.app.refunds.confirm(draft.id, actor=AGENT)
        self.credit_given += result.customer_credit.amount
        absorbed = min(draft.total.amount, residual_before.amount)
        assert result.invoice.residual.amount == residual_before.amount - absorbed
        assert result.credit_note.residual.amount == draft.total.amount - absorbed

    @precondition(lambda self: self.invoice is not None and bool(self.drafts()))
    @rule(pick=st.integers(min_value=0))
    def cancel(self, pick: int) -> None:
        drafts = self.drafts()
        draft = drafts[pick % len(drafts)]
        left = self.left()
        self.desk.app.refunds.cancel(draft.id, actor=AGENT)
        assert self.left() == left + draft.total.amount

    @precondition(lambda self: self.invoice is not None)
    @rule()
    def confirm_a_posted_note(self) -> None:
        posted = [n for n in self.notes() if n.state is InvoiceState.POSTED]
        if posted:
            with pytest.raises(InvalidState), assert_unchanged(self.desk.backend):
                self.desk.app.refunds.confirm(posted[0].id, actor=AGENT)

    # -- invariants -----------------------------------------------------------------------------

    @precondition(lambda self: self.invoice is not None)
    @invariant()
    def never_more_credit_than_invoiced(self) -> None:
        assert self.left() >= 0

    @precondition(lambda self: self.invoice is not None)
    @invariant()
    def residual_and_state_follow_the_matches(self) -> None:
        invoice = self.inv
        assert settle(invoice, self.desk.matches(invoice.id)) == invoice
        assert invoice.state is InvoiceState.POSTED

    @precondition(lambda self: self.invoice is not None)
    @invariant()
    def money_is_conserved(self) -> None:
        invoice = self.inv
        matches = self.desk.matches(invoice.id)
        posted = [n for n in self.notes() if n.state is InvoiceState.POSTED]
        credited = sum((n.total.amount for n in posted), Decimal(0))
        matched_payments = sum(
            (m.amount.amount for m in matches if m.kind is MatchKind.PAYMENT), Decimal(0)
        )
        outstanding = (self.paid - matched_payments) + sum(
            (n.residual.amount for n in posted), Decimal(0)
        )
        assert invoice.residual.amount - outstanding == (
            invoice.total.amount - self.paid - credited
        )
        assert outstanding == self.credit_given  # every credit was reported by a result
        for note in posted:
            on_invoice = sum(
                (m.amount.amount for m in matches if m.counterpart_id == note.id), Decimal(0)
            )
            assert note.residual.amount == note.total.amount - on_invoice

    @precondition(lambda self: self.invoice is not None)
    @invariant()
    def numbers_are_unique(self) -> None:
        numbers = [n.number for n in self.notes() if n.number is not None]
        assert len(numbers) == len(set(numbers))

    @precondition(lambda self: self.invoice is not None)
    @invariant()
    def the_ticket_counts_every_credit_note(self) -> None:
        view = self.desk.app.tickets.view(self.desk.ticket.id, actor=AGENT)
        assert view.counts.credit_notes == len(self.notes())


RefundMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRefundMachine = RefundMachine.TestCase


# -- RL-3: the cap under threads ------------------------------------------------------------------


def _race(workers: int, call: Callable[[int], Any]) -> tuple[list[Any], list[Exception]]:
    barrier = threading.Barrier(workers)
    done: list[Any] = []
    failed: list[Exception] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        barrier.wait()
        try:
            result = call(n)
        except AfterSalesError as exc:
            with lock:
                failed.append(exc)
        else:
            with lock:
                done.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return done, failed


def test_rl3_concurrent_partial_refunds_stop_at_the_invoice_total() -> None:
    desk = _fresh()
    item = desk.world.product(name="Item", price=Decimal("10.00"))
    invoice = desk.invoice([(item, 10)])  # 100.00

    done, failed = _race(
        16,
        lambda n: desk.app.refunds.reverse(
            desk.ticket.id, invoice.id, lines=[line("10.00")], actor=AGENT
        ),
    )

    assert len(done) == 10
    assert len(failed) == 6
    assert all(isinstance(exc, QuantityExceeded) for exc in failed)
    notes = desk.app.refunds.credit_notes(desk.ticket.id, actor=AGENT)
    assert Money.sum((n.total for n in notes), "EUR") == money("100.00")


def test_rl3_concurrent_full_reversals_make_exactly_one_credit_note() -> None:
    desk = _fresh()
    item = desk.world.product(name="Item", price=Decimal("99.99"))
    invoice = desk.invoice([(item, 1)], paid=Decimal("10.00"))

    done, failed = _race(
        8,
        lambda n: desk.app.refunds.reverse(
            desk.ticket.id,
            invoice.id,
            method=[CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE][n % 2],
            actor=AGENT,
        ),
    )

    assert len(done) == 1
    assert all(isinstance(exc, InvalidOperation) for exc in failed)  # nothing left to pay
    assert done[0].customer_credit == money("10.00")
    assert len(desk.app.refunds.credit_notes(desk.ticket.id, actor=AGENT)) == 1
    [match] = desk.matches(invoice.id)
    assert match.kind is MatchKind.CREDIT_NOTE


def test_rl3_concurrent_confirms_post_a_draft_once() -> None:
    desk = _fresh()
    item = desk.world.product(name="Item", price=Decimal("50.00"))
    invoice = desk.invoice([(item, 2)])
    draft = desk.app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT).credit_note

    done, failed = _race(8, lambda n: desk.app.refunds.confirm(draft.id, actor=AGENT))

    assert len(done) == 1
    assert len(failed) == 7
    assert all(isinstance(exc, InvalidState) for exc in failed)
    assert len(desk.matches(invoice.id)) == 1
    assert desk.stored(invoice.id).residual == money(0)


def test_rl3_concurrent_edits_and_reverses_keep_the_cap() -> None:
    desk = _fresh()
    item = desk.world.product(name="Item", price=Decimal("1.000"), currency="KWD")
    invoice = desk.invoice([(item, 30)])  # 30.000 KWD
    refunds = desk.app.refunds
    drafts = [
        refunds.reverse(
            desk.ticket.id, invoice.id, lines=[line("1", currency="KWD")], actor=AGENT
        ).credit_note
        for _ in range(5)
    ]

    def step(n: int) -> Any:
        if n < 5:  # grow each draft to 5.000
            return refunds.update_draft(
                drafts[n].id, lines=[line("5", currency="KWD")], actor=AGENT
            )
        return refunds.reverse(
            desk.ticket.id, invoice.id, lines=[line("3", currency="KWD")], actor=AGENT
        )

    _race(12, step)

    live = refunds.credit_notes(desk.ticket.id, actor=AGENT)
    assert Money.sum((n.total for n in live), "KWD") <= money(30, "KWD")


# -- RL-2: idempotency ----------------------------------------------------------------------------


def test_rl2_reverse_with_the_same_key_returns_the_first_result(
    scenario: Scenario, app: AfterSales, backend: Any
) -> None:
    first = app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL_AND_REINVOICE,
        actor=AGENT,
        idempotency_key="req-7f3a",
    )
    with assert_unchanged(backend):
        again = app.refunds.reverse(
            scenario.ticket.id,
            scenario.invoice.id,
            method=CreditMethod.FULL_AND_REINVOICE,
            actor=AGENT,
            idempotency_key="req-7f3a",
        )
    assert again == first
    with (
        pytest.raises(IdempotencyConflict, match="used with different arguments"),
        assert_unchanged(backend),
    ):
        app.refunds.reverse(
            scenario.ticket.id,
            scenario.invoice.id,
            method=CreditMethod.FULL,
            actor=AGENT,
            idempotency_key="req-7f3a",
        )
    with pytest.raises(IdempotencyConflict, match=r"was used for refunds\.reverse"):
        app.refunds.confirm(first.credit_note.id, actor=AGENT, idempotency_key="req-7f3a")


def test_rl2_confirm_edit_and_cancel_replay(
    scenario: Scenario, app: AfterSales, backend: Any
) -> None:
    refunds = app.refunds
    draft = refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("5.00")], actor=AGENT
    ).credit_note
    edited = refunds.update_draft(draft.id, lines=[line("6.00")], actor=AGENT, idempotency_key="e")
    posted = refunds.confirm(draft.id, actor=AGENT, idempotency_key="c")
    with assert_unchanged(backend):
        assert (
            refunds.update_draft(draft.id, lines=[line("6.00")], actor=AGENT, idempotency_key="e")
            == edited
        )
        assert refunds.confirm(draft.id, actor=AGENT, idempotency_key="c") == posted

    other = refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1.00")], actor=AGENT
    ).credit_note
    cancelled = refunds.cancel(other.id, actor=AGENT, idempotency_key="x")
    with assert_unchanged(backend):
        assert refunds.cancel(other.id, actor=AGENT, idempotency_key="x") == cancelled


# -- RL-1, G-3: a failure half-way leaves nothing ----------------------------------------------


class _Broken(Exception):
    pass


class FailingTrail:
    """A plugin whose trail hook fails: called before the memory backend's (LIFO)."""

    @hookimpl(wrapper=True)
    def aftersales_store_post_message(
        self, message: TicketMessage
    ) -> Generator[None, TicketMessage, TicketMessage]:
        yield from ()  # a wrapper (it owns no port) that fails before the call
        raise BackendError(f"trail unavailable for {message.ticket_id}")


class FailingLinks:
    @hookimpl(wrapper=True)
    def aftersales_store_add_link(
        self, link: DocumentLink
    ) -> Generator[None, DocumentLink, DocumentLink]:
        if link.kind.value == "invoice":  # the re-invoice link: the very last write
            raise BackendError("links unavailable")
        return (yield)  # a wrapper: the backend stores the other links


@pytest.mark.parametrize("plugin", [FailingTrail(), FailingLinks()])
def test_rl1_a_backend_failure_rolls_the_whole_refund_back(
    backend: Any, clock: FrozenClock, plugin: object
) -> None:
    app = AfterSales(backend, clock=clock, plugins=[plugin])
    desk = make_desk(app, backend, clock)
    item = desk.world.product(name="Sofa", price=Decimal("1165.29"), taxes=("21%",))
    invoice = desk.invoice([(item, 1)], paid=Decimal("500.00"))

    with pytest.raises(BackendError, match="unavailable"), assert_unchanged(backend):
        app.refunds.reverse(
            desk.ticket.id,
            invoice.id,
            method=CreditMethod.FULL_AND_REINVOICE,
            actor=AGENT,
            idempotency_key="k-1",
        )
    assert [m.kind for m in desk.matches(invoice.id)] == [MatchKind.PAYMENT]


# -- serialization -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(CreditMethod))
def test_results_round_trip_through_json(
    scenario: Scenario, app: AfterSales, method: CreditMethod
) -> None:
    result = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, method=method, actor=AGENT
    )
    assert loads(dumps(result), RefundResult) == result
    assert converter.structure(converter.unstructure(result), RefundResult) == result
    if method is CreditMethod.PARTIAL:
        posted = app.refunds.confirm(result.credit_note.id, actor=AGENT)
        assert loads(dumps(posted), RefundResult) == posted
    listed = app.refunds.invoices_to_refund(scenario.ticket.id, actor=AGENT)
    assert loads(dumps(listed), tuple[Invoice, ...]) == listed
    methods = app.refunds.credit_methods(scenario.ticket.id, scenario.invoice.id, actor=AGENT)
    assert loads(dumps(methods), tuple[CreditMethod, ...]) == methods


def test_results_are_frozen(scenario: Scenario, app: AfterSales) -> None:
    result = app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, actor=AGENT)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.customer_credit = money(1)  # type: ignore[misc]
