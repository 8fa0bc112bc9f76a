"""End-to-end flows through [`AfterSales`][aftersales.app.AfterSales] on the backend under test.

Each flow class drives the public services the way a helpdesk does and checks what the
user sees — results, the ticket view, the stored records — so a backend passes only if the
whole library works on it: settings and the trial, the ticket view, refunds, coupons,
returns, repairs and field service, the caps of RL-3 under threads, and (for a persistent
backend) a restart.

Adding a flow: write a `<Service>Flow(ScenarioFlow)` class below (its tests get the
standard world from the `scenario` fixture), call `kit.app.<service>` and assert on
results, the ticket view and `kit.unchanged()` for refusals; then add it to
`ServiceFlows`. The suite runs it on every backend with no other change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest

from aftersales.app import AfterSales
from aftersales.errors import (
    ConflictError,
    DatabaseLocked,
    InvalidCoupon,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
    QuantityExceeded,
)
from aftersales.models import (
    Actor,
    CouponState,
    CreditMethod,
    DocumentKind,
    DocumentLink,
    EmailState,
    Group,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceMethod,
    InvoiceState,
    Money,
    MoveState,
    OperationLine,
    PartAction,
    PartLine,
    PaymentState,
    Picking,
    PickingState,
    Product,
    ProductKind,
    RepairInvoiced,
    RepairState,
    Reversal,
    Service,
    SubscriptionState,
    TaskStage,
    TicketMessage,
)
from aftersales.runtime import Config
from aftersales.services.coupons import CouponInfo
from aftersales.services.field_service import TaskView
from aftersales.services.tickets import TicketAction, TicketView
from aftersales.testing.faults import FaultInjector, sweep_faults
from aftersales.testing.scenario import AGENT, MANAGER, SYSTEM, Scenario, build_scenario
from aftersales.unit_of_work import operation_reference

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = [
    "AtomicityFlow",
    "CouponFlow",
    "FieldServiceFlow",
    "PersistenceFlow",
    "RefundFlow",
    "RepairFlow",
    "ReturnFlow",
    "ScenarioFlow",
    "ServiceFlows",
    "SettingsFlow",
    "SubscriptionFlow",
    "TicketViewFlow",
]


class SettingsFlow(ContractBase):
    """Team toggles, the install plan and module installation (ST-1, ST-4, ST-5, ST-8)."""

    def test_st5_plan_changes_nothing_and_st4_configure_installs_in_order(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        with kit.unchanged():
            plan = kit.app.settings.plan(team.id, enable={Service.REFUNDS}, actor=MANAGER)
        assert plan.modules == ("account", "sale_management", "helpdesk_sale", "helpdesk_account")
        assert plan.trial_starts is True
        assert plan.trial_ends_at == kit.clock.now() + timedelta(days=15)
        done = kit.app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
        assert done.installed == plan.modules
        assert done.team.services == frozenset({Service.REFUNDS})
        assert kit.read(lambda h: h.modules_installed()) >= set(plan.modules)
        assert kit.read(lambda h: h.get_team(team.id)).services == frozenset({Service.REFUNDS})
        installs = [e.detail for e in kit.read(lambda h: h.audit_list()) if "installed" in e.action]
        assert [detail.split()[0] for detail in installs] == list(plan.modules)

    def test_st1_toggles_are_per_team(self, kit: Kit) -> None:
        kit.world.install("account", "sale_management", "helpdesk_sale", "helpdesk_account")
        kit.world.install("stock", "helpdesk_stock", "helpdesk_stock_account")
        one = kit.world.team(name="One")
        two = kit.world.team(name="Two")
        kit.app.settings.configure(one.id, enable={Service.REFUNDS}, actor=MANAGER)
        kit.app.settings.configure(two.id, enable={Service.RETURNS}, actor=MANAGER)
        kit.app.settings.configure(one.id, disable={Service.REFUNDS}, actor=MANAGER)
        assert kit.app.settings.team_settings(one.id, actor=MANAGER).services == frozenset()
        assert kit.app.settings.team_settings(two.id, actor=MANAGER).services == {Service.RETURNS}

    def test_a_refused_configuration_changes_nothing(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        with kit.unchanged(), pytest.raises(InvalidInput, match="enable"):
            kit.app.settings.configure(
                team.id, enable={Service.REFUNDS}, disable={Service.REFUNDS}, actor=MANAGER
            )


class SubscriptionFlow(ContractBase):
    """The One-App-Free trial and the lock (ST-8, ST-9, ST-11)."""

    def test_st9_an_expired_trial_locks_until_paid(self, kit: Kit) -> None:
        scenario_team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=scenario_team, title="Broken")
        kit.app.settings.configure(scenario_team.id, enable={Service.REFUNDS}, actor=MANAGER)
        status = kit.app.subscription.status(actor=MANAGER)
        assert status.state is SubscriptionState.TRIAL
        kit.clock.advance(days=15)
        with pytest.raises(DatabaseLocked):
            kit.app.tickets.view(ticket.id, actor=AGENT)
        assert kit.app.subscription.status(actor=MANAGER).state is SubscriptionState.EXPIRED
        paid = kit.app.subscription.register_paid("SUB-2026-7", actor=SYSTEM)
        assert paid.state is SubscriptionState.PAID
        assert kit.app.tickets.view(ticket.id, actor=AGENT).ticket == ticket
        actions = [e.action for e in kit.read(lambda h: h.audit_list())]
        changes = [a for a in actions if a.startswith("subscription")]
        assert changes == ["subscription trial", "subscription expired", "subscription paid"]


class ScenarioFlow(ContractBase):
    """Base of the flows that start from the standard world (every service on)."""

    @pytest.fixture
    def scenario(self, kit: Kit) -> Scenario:
        return build_scenario(kit.world)


class TicketViewFlow(ScenarioFlow):
    """The ticket view over the standard scenario: actions, documents, counts, trail."""

    def test_view_offers_actions_and_counts_linked_documents(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        view = kit.app.tickets.view(scenario.ticket.id, actor=AGENT)
        assert view.ticket == scenario.ticket
        assert view.team_name == "Support"
        assert view.customer_name == "Ana Pérez"
        assert view.actions == (
            TicketAction.REFUND,
            TicketAction.COUPON,
            TicketAction.RETURN,
            TicketAction.REPAIR,
            TicketAction.CREATE_TASK,
        )
        assert view.documents == ()
        invoice = scenario.invoice
        now = kit.clock.now()
        made: list[Invoice] = []

        def link(h: object) -> None:
            # A credit note the ERP made (its id, its number), linked by hand.
            note = kit.hooks.reverse_invoice(
                Reversal(
                    invoice_id=invoice.id,
                    method=CreditMethod.PARTIAL,
                    reversal_date=kit.clock.today(),
                    reason="By hand",
                    lines=(attrs.evolve(invoice.lines[0], quantity=Decimal(1)),),
                    ticket_id=scenario.ticket.id,
                    post=True,
                    at=now,
                    reference="op-flow-view",
                )
            ).credit_note
            made.append(note)
            kit.hooks.add_link(
                DocumentLink(
                    ticket_id=scenario.ticket.id,
                    kind=DocumentKind.CREDIT_NOTE,
                    document_id=note.id,
                    created_at=now,
                )
            )
            for minutes, body in ((0, "Credit note created"), (5, "Credit note sent")):
                kit.hooks.post_message(
                    TicketMessage(
                        id=f"msg-flow-{minutes}",
                        ticket_id=scenario.ticket.id,
                        at=now + timedelta(minutes=minutes),
                        author_id=AGENT.user_id,
                        body=body,
                        document_kind=DocumentKind.CREDIT_NOTE,
                        document_id=note.id,
                    )
                )

        kit.write(link)
        [note] = made
        assert note.number is not None
        view = kit.app.tickets.view(scenario.ticket.id, actor=AGENT)
        assert view.counts.credit_notes == 1
        assert [(d.name, d.state, d.detail) for d in view.documents] == [
            (note.number, "posted", str(note.total))
        ]
        assert note.total.amount == Decimal("60.44")
        assert [m.body for m in view.trail] == ["Credit note sent", "Credit note created"]


def _eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def _ref(key: str) -> str:
    """The operation reference the ERP keeps for the agent's call with `key`."""
    return operation_reference(AGENT.user_id, key)


def _headlines(view: TicketView) -> list[str]:
    """The trail newest first, each message cut at its first colon ("Refund created")."""
    return [message.body.split(":")[0] for message in view.trail]


def _one_blender(scenario: Scenario) -> list[InvoiceLine]:
    """One blender of the scenario's invoice: 49.95 + 21 % = 60.44."""
    return [attrs.evolve(scenario.invoice.lines[0], quantity=Decimal(1))]


def _labour(kit: Kit) -> Product:
    """A service product sold by the hour, to the hundredth: 30.00 + 21 %."""
    return kit.world.product(
        name="Labour",
        price=Decimal("30.00"),
        taxes=("21%",),
        kind=ProductKind.SERVICE,
        uom="Hours",
        uom_digits=2,
    )


def _outcome(call: Callable[[], object], *refusals: type[Exception]) -> str:
    try:
        call()
    except refusals:
        return "refused"
    return "done"


class RefundFlow(ScenarioFlow):
    """Credit notes from a ticket (RF-2 … RF-11) and the cap of RF-7.

    The scenario's invoice is 2 × Blender 49.95 + 1 × Kettle 20.00, 21 % tax excluded:
    120.88 + 24.20 = 145.08.
    """

    def test_rf2_rf4_rf8_a_partial_draft_is_edited_then_posted(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        refunds, ticket, invoice = kit.app.refunds, scenario.ticket, scenario.invoice
        assert invoice.total == _eur("145.08")
        assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == (invoice,)
        assert refunds.credit_methods(ticket.id, invoice.id, actor=AGENT) == (
            CreditMethod.PARTIAL,
            CreditMethod.FULL,
            CreditMethod.FULL_AND_REINVOICE,
        )
        made = refunds.reverse(ticket.id, invoice.id, actor=AGENT)
        note = made.credit_note
        assert (note.state, note.credit_method, note.number) == (
            InvoiceState.DRAFT,
            CreditMethod.PARTIAL,
            None,
        )
        assert note.lines == invoice.lines
        assert note.reference == f"Reversal of: {invoice.number}, Ticket #{ticket.ref}"
        assert made.invoice == invoice
        assert kit.read(lambda h: h.get_invoice(note.id)) == note

        edited = refunds.update_draft(note.id, lines=_one_blender(scenario), actor=AGENT)
        assert edited.total == _eur("60.44")
        posted = refunds.confirm(note.id, actor=AGENT)
        assert posted.credit_note.state is InvoiceState.POSTED
        assert posted.credit_note.number is not None  # the ERP's (RINV/2026/00001 here)
        assert posted.invoice.residual == _eur("84.64")
        assert posted.invoice.payment_state is PaymentState.PARTIAL
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == posted.invoice
        assert refunds.credit_notes(ticket.id, actor=AGENT) == (posted.credit_note,)
        with kit.unchanged(), pytest.raises(InvalidState, match="already posted"):
            refunds.confirm(note.id, actor=AGENT)

        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.credit_notes == 1
        assert [(d.name, d.state, d.detail) for d in view.documents] == [
            (posted.credit_note.number, "posted", "60.44 EUR")
        ]
        assert _headlines(view) == ["Refund posted", "Refund updated", "Refund created"]

    def test_rf4_full_posts_reconciles_and_replays_by_key(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        refunds, ticket, invoice = kit.app.refunds, scenario.ticket, scenario.invoice
        done = refunds.reverse(
            ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT, idempotency_key="rf-1"
        )
        note = done.credit_note
        assert (note.state, note.credit_method) == (InvoiceState.POSTED, CreditMethod.FULL)
        assert note.number is not None
        assert note.total == _eur("145.08")
        assert note.residual == _eur("0.00")
        assert done.invoice.payment_state is PaymentState.REVERSED
        assert done.invoice.residual == _eur("0.00")
        assert done.customer_credit == _eur("0.00")
        assert done.new_invoice is None
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == done.invoice
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("145.08")
        assert [i.id for i in kit.read(lambda h: h.find_by_reference(_ref("rf-1")))] == [note.id]
        assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == ()
        with kit.unchanged():
            again = refunds.reverse(
                ticket.id,
                invoice.id,
                method=CreditMethod.FULL,
                actor=AGENT,
                idempotency_key="rf-1",
            )
        assert again == done

    def test_rf4a_full_and_reinvoice_turns_payments_into_customer_credit(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        """Invoice of 120.88 with 50.00 paid: credit note 120.88 posted and matched, the
        payment becomes customer credit, and a draft copy replaces the invoice."""
        invoice = kit.world.invoice(
            customer=scenario.customer,
            lines=[(scenario.blender, 2)],
            paid=Decimal("50.00"),
            sale_order=scenario.order,
        )
        assert invoice.residual == _eur("70.88")
        done = kit.app.refunds.reverse(
            scenario.ticket.id,
            invoice.id,
            method=CreditMethod.FULL_AND_REINVOICE,
            actor=AGENT,
        )
        assert done.credit_note.total == _eur("120.88")
        assert done.customer_credit == _eur("50.00")
        assert (done.invoice.payment_state, done.invoice.residual) == (
            PaymentState.REVERSED,
            _eur("0.00"),
        )
        copy = done.new_invoice
        assert copy is not None
        assert (copy.state, copy.number, copy.lines) == (InvoiceState.DRAFT, None, invoice.lines)
        assert kit.read(lambda h: h.get_invoice(copy.id)) == copy
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == done.invoice
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("120.88")
        counts = kit.app.tickets.view(scenario.ticket.id, actor=AGENT).counts
        assert (counts.credit_notes, counts.invoices) == (1, 1)

    def test_rf6_a_future_full_reversal_waits_and_posts_as_full(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        """The credit method is stored with the draft: posted a week later, it still takes
        the payment off the invoice (RF-4a)."""
        invoice = kit.world.invoice(
            customer=scenario.customer, lines=[(scenario.kettle, 5)], paid=Decimal("30.00")
        )
        day = kit.clock.today() + timedelta(days=7)
        made = kit.app.refunds.reverse(
            scenario.ticket.id, invoice.id, method=CreditMethod.FULL, reversal_date=day, actor=AGENT
        )
        note = made.credit_note
        assert (note.state, note.post_on, note.credit_method) == (
            InvoiceState.DRAFT,
            day,
            CreditMethod.FULL,
        )
        assert made.invoice == invoice
        with kit.unchanged(), pytest.raises(InvalidState, match="scheduled to post on"):
            kit.app.refunds.confirm(note.id, actor=AGENT)
        kit.clock.advance(days=7)
        posted = kit.app.refunds.confirm(note.id, actor=AGENT)
        assert posted.credit_note.number is not None
        assert posted.customer_credit == _eur("30.00")
        assert (posted.invoice.payment_state, posted.invoice.residual) == (
            PaymentState.REVERSED,
            _eur("0.00"),
        )

    def test_rf7_credit_notes_never_add_up_to_more_than_the_invoice(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        refunds, ticket, invoice = kit.app.refunds, scenario.ticket, scenario.invoice
        blender, kettle = _one_blender(scenario), [invoice.lines[1]]
        first = refunds.reverse(ticket.id, invoice.id, lines=blender, actor=AGENT).credit_note
        second = refunds.reverse(ticket.id, invoice.id, lines=blender, actor=AGENT).credit_note
        for method, lines in ((CreditMethod.PARTIAL, blender), (CreditMethod.FULL, None)):
            with kit.unchanged(), pytest.raises(QuantityExceeded, match=r"only 24\.20 EUR"):
                refunds.reverse(ticket.id, invoice.id, method=method, lines=lines, actor=AGENT)
        refunds.reverse(ticket.id, invoice.id, lines=kettle, actor=AGENT)
        assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == ()
        with kit.unchanged(), pytest.raises(QuantityExceeded, match=r"only 60\.44 EUR"):
            refunds.update_draft(second.id, lines=invoice.lines[:1], actor=AGENT)
        refunds.cancel(first.id, actor=AGENT)
        assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == (invoice,)
        widened = refunds.update_draft(second.id, lines=invoice.lines[:1], actor=AGENT)
        assert widened.total == _eur("120.88")
        notes = refunds.credit_notes(ticket.id, actor=AGENT)
        assert [n.state for n in notes] == [
            InvoiceState.CANCELLED,
            InvoiceState.DRAFT,
            InvoiceState.DRAFT,
        ]
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("145.08")

    def test_rl3_threads_refunding_one_invoice_never_exceed_it(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        kit.require(Capability.THREADS)
        ticket, invoice = scenario.ticket, scenario.invoice

        def refund(_i: int) -> str:
            return _outcome(
                lambda: kit.app.refunds.reverse(
                    ticket.id, invoice.id, lines=_one_blender(scenario), actor=AGENT
                ),
                QuantityExceeded,
            )

        assert sorted(run_threads(4, refund)) == ["done", "done", "refused", "refused"]
        notes = kit.app.refunds.credit_notes(ticket.id, actor=AGENT)
        assert Money.sum((n.total for n in notes), "EUR") == _eur("120.88")
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("120.88")


class CouponFlow(ScenarioFlow):
    """Coupons from a ticket: unique codes (CP-4 … CP-6), sending (CP-7, CP-8) and
    redemption up to the program's limit (CP-9, CP-10)."""

    def test_cp4_cp5_cp6_each_coupon_gets_its_own_code(self, kit: Kit, scenario: Scenario) -> None:
        coupons, ticket, program = kit.app.coupons, scenario.ticket, scenario.program
        assert coupons.programs(ticket.id, actor=AGENT) == (program,)
        until = kit.clock.today() + timedelta(days=30)
        one = coupons.generate(ticket.id, program.id, expires_on=until, actor=AGENT)
        two = coupons.generate(ticket.id, program.id, actor=AGENT)
        assert one.code != two.code
        for coupon in (one, two):
            assert re.fullmatch(r"044[A-HJKMNP-Z2-9]{11}", coupon.code), coupon.code
            assert (coupon.state, coupon.program_name) == (CouponState.VALID, program.name)
            assert coupon.points == program.reward.required_points
        assert (one.expires_on, two.expires_on) == (until, None)
        assert coupons.coupons(ticket.id, actor=AGENT) == (one, two)
        assert kit.read(lambda h: h.find_coupon(two.code)) == kit.read(
            lambda h: h.get_coupon(two.id)
        )
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.coupons == 2
        assert [(d.name, d.state, d.expires_on) for d in view.documents] == [
            (one.code, "valid", until),
            (two.code, "valid", None),
        ]

    def test_cp5_a_taken_code_is_drawn_again_in_the_same_call(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        """The store refuses a taken code; the call goes on with a new one (on SQL stores,
        the refused insert must not abort the transaction)."""
        program = kit.world.coupon_program(name="Apology", code="SORRY")
        drawn = iter(["SORRY", "APOLOGY-1", "APOLOGY-1", "APOLOGY-2"])
        app = kit.application(Config(coupon_code_generator=lambda _p: next(drawn)))
        first = app.coupons.generate(scenario.ticket.id, program.id, actor=AGENT)
        second = app.coupons.generate(scenario.ticket.id, program.id, actor=AGENT)
        assert (first.code, second.code) == ("APOLOGY-1", "APOLOGY-2")
        assert app.coupons.coupons(scenario.ticket.id, actor=AGENT) == (first, second)
        assert _headlines(app.tickets.view(scenario.ticket.id, actor=AGENT)) == [
            "Coupon APOLOGY-2 generated (Apology",
            "Coupon APOLOGY-1 generated (Apology",
        ]
        stuck = kit.application(
            Config(coupon_code_generator=lambda _p: "APOLOGY-1", coupon_code_attempts=3)
        )
        with kit.unchanged(), pytest.raises(ConflictError, match="after 3 attempts"):
            stuck.coupons.generate(scenario.ticket.id, program.id, actor=AGENT)

    def test_cp7_cp8_sending_emails_customer_and_followers_after_commit(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        coupons, ticket = kit.app.coupons, scenario.ticket
        coupon = coupons.generate(ticket.id, scenario.program.id, actor=AGENT)
        with kit.unchanged(), pytest.raises(InvalidInput, match="header injection"):
            coupons.send(
                ticket.id,
                coupon.id,
                extra_recipients=["eve@example.com\r\nBcc: all@example.com"],
                actor=AGENT,
            )
        sent = coupons.send(
            ticket.id,
            coupon.id,
            extra_recipients=["Luis Pérez <luis@perez.example>", "ANA@perez.example"],
            actor=AGENT,
        )
        assert sent.recipients == ("ana@perez.example", "marta@example.com", "luis@perez.example")
        outbox = kit.app.outbox.emails(actor=SYSTEM)
        assert [(e.id, e.state, e.attempts) for e in outbox] == [
            (sent.email_id, EmailState.SENT, 1)
        ]
        email = outbox[0]
        assert email.recipients == sent.recipients
        assert email.sent_at == kit.clock.now()
        assert coupon.code in email.text_body
        assert coupon.code in email.html_body
        assert kit.app.outbox.emails(pending_only=True, actor=SYSTEM) == ()
        if Capability.DELIVERED_LOG.value in kit.capabilities:
            assert [e.id for e in kit.backend.delivered] == [sent.email_id]
        trail = kit.app.tickets.view(ticket.id, actor=AGENT).trail
        assert trail[0].body == (
            f"Coupon {coupon.code} sent by email to "
            "ana@perez.example, marta@example.com, luis@perez.example"
        )

    def test_cp9_cp10_redemption_stops_at_the_usage_limit(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        coupons, ticket = kit.app.coupons, scenario.ticket
        limited = kit.world.coupon_program(name="Two uses", max_usage=2)
        codes = [coupons.generate(ticket.id, limited.id, actor=AGENT).code for _ in range(3)]
        first = coupons.redeem(codes[0], order_reference="S00042", actor=AGENT)
        assert (first.program_uses, first.coupon.state) == (1, CouponState.USED)
        assert first.use.order_reference == "S00042"
        for code, reason in (
            (codes[0], "this coupon has already been used"),
            ("044UNKNOWN", "this code is invalid"),
        ):
            with kit.unchanged(), pytest.raises(InvalidCoupon, match=reason):
                coupons.redeem(code, actor=AGENT)
        assert coupons.redeem(codes[1], actor=AGENT).program_uses == 2
        with kit.unchanged(), pytest.raises(InvalidCoupon, match="this code is expired"):
            coupons.redeem(codes[2], actor=AGENT)
        assert kit.read(lambda h: h.count_uses(limited.id)) == 2
        assert [c.state for c in coupons.coupons(ticket.id, actor=AGENT)] == [
            CouponState.USED,
            CouponState.USED,
            CouponState.EXPIRED,
        ]

    def test_rl3_threads_redeeming_never_exceed_the_limit(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        kit.require(Capability.THREADS)
        limited = kit.world.coupon_program(name="Two uses", max_usage=2)
        codes = [
            kit.app.coupons.generate(scenario.ticket.id, limited.id, actor=AGENT).code
            for _ in range(4)
        ]

        def redeem(i: int) -> str:
            return _outcome(lambda: kit.app.coupons.redeem(codes[i], actor=AGENT), InvalidCoupon)

        assert sorted(run_threads(4, redeem)) == ["done", "done", "refused", "refused"]
        assert kit.read(lambda h: h.count_uses(limited.id)) == 2


class ReturnFlow(ScenarioFlow):
    """Returns of the scenario's delivery (2 blenders, 1 kettle): RT-4 … RT-9."""

    def test_rt2_rt4_rt7_a_return_is_prepared_and_created_ready(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        returns, ticket, delivery = kit.app.returns, scenario.ticket, scenario.delivery
        assert returns.deliveries(ticket.id, actor=AGENT) == (delivery,)
        draft = returns.prepare(ticket.id, actor=AGENT)
        assert draft.delivery_id == delivery.id
        assert [(line.product_name, line.delivered, line.quantity) for line in draft.lines] == [
            ("Blender", Decimal(2), Decimal(2)),
            ("Kettle", Decimal(1), Decimal(1)),
        ]
        blender_move = draft.lines[0].move_id
        made = returns.create(ticket.id, delivery.id, {blender_move: Decimal(1)}, actor=AGENT)
        assert (made.state, made.origin) == (PickingState.READY, f"Return of {delivery.reference}")
        assert made.reference not in ("", delivery.reference)  # the ERP's name (WH/RET/00001)
        assert (made.source_location, made.destination_location) == (
            delivery.destination_location,
            delivery.source_location,
        )
        assert [(m.product_id, m.quantity, m.origin_move_id) for m in made.moves] == [
            (scenario.blender.id, Decimal(1), blender_move)
        ]
        assert kit.read(lambda h: h.get_picking(made.id)) == made
        assert returns.returns(ticket.id, actor=AGENT) == (made,)
        again = returns.prepare(ticket.id, delivery.id, actor=AGENT)
        assert [(line.reserved, line.quantity) for line in again.lines] == [
            (Decimal(1), Decimal(1)),
            (Decimal(0), Decimal(1)),
        ]
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.returns == 1
        assert _headlines(view) == ["Return created"]

    def test_rt5_refused_quantities_change_nothing(self, kit: Kit, scenario: Scenario) -> None:
        returns, ticket, delivery = kit.app.returns, scenario.ticket, scenario.delivery
        blender, kettle = (move.id for move in delivery.moves)
        returns.create(ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT)
        refused: list[tuple[dict[str, Decimal], type[Exception], str]] = [
            ({blender: Decimal(2)}, QuantityExceeded, r"Blender.*asked 2 \w+, only 1 \w+"),
            ({kettle: Decimal(-1)}, InvalidInput, "negative"),
            ({kettle: Decimal(0)}, InvalidInput, "at least one non-zero quantity"),
            ({"move-elsewhere": Decimal(1)}, InvalidInput, "not a returnable line of delivery"),
        ]
        for quantities, error, message in refused:
            with kit.unchanged(), pytest.raises(error, match=message):
                returns.create(ticket.id, delivery.id, quantities, actor=AGENT)

    def test_rt7_rt8_rt9_validate_counts_as_returned_and_cancel_releases(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        returns, ticket, delivery = kit.app.returns, scenario.ticket, scenario.delivery
        blender, kettle = (move.id for move in delivery.moves)
        first = returns.create(ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT)
        both = {blender: Decimal(1), kettle: Decimal(1)}
        second = returns.create(ticket.id, delivery.id, both, actor=AGENT)
        with kit.unchanged(), pytest.raises(InvalidOperation, match="nothing left to return"):
            returns.prepare(ticket.id, delivery.id, actor=AGENT)
        kit.clock.advance(hours=2)
        done = returns.validate(first.id, actor=AGENT)
        assert (done.state, done.done_at) == (PickingState.DONE, kit.clock.now())
        assert {m.state for m in done.moves} == {MoveState.DONE}
        cancelled = returns.cancel(second.id, actor=AGENT)
        assert cancelled.state is PickingState.CANCELLED
        with kit.unchanged(), pytest.raises(InvalidState, match="only open returns"):
            returns.validate(second.id, actor=AGENT)
        left = returns.prepare(ticket.id, delivery.id, actor=AGENT).lines
        assert [(line.returned, line.reserved, line.quantity) for line in left] == [
            (Decimal(1), Decimal(0), Decimal(1)),
            (Decimal(0), Decimal(0), Decimal(1)),
        ]
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.returns == 2
        assert first.reference != second.reference
        assert [(d.name, d.state) for d in view.documents] == [
            (first.reference, "done"),
            (second.reference, "cancelled"),
        ]
        assert _headlines(view) == [
            "Return cancelled",
            "Return done",
            "Return created",
            "Return created",
        ]

    def test_rl3_threads_returning_one_delivery_never_exceed_it(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        kit.require(Capability.THREADS)
        ticket, delivery = scenario.ticket, scenario.delivery
        blender = delivery.moves[0].id

        def give_back(_i: int) -> str:
            return _outcome(
                lambda: kit.app.returns.create(
                    ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT
                ),
                QuantityExceeded,
            )

        assert sorted(run_threads(4, give_back)) == ["done", "done", "refused", "refused"]
        made = kit.read(lambda h: list(h.list_returns(delivery.id)))
        assert len({p.reference for p in made}) == 2


class RepairFlow(ScenarioFlow):
    """Repair orders from a ticket: life cycle and invoice (RP-7 … RP-11)."""

    def test_rp7_rp8_rp9_a_repair_from_draft_to_its_invoice(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        repairs, ticket = kit.app.repairs, scenario.ticket
        motor = kit.world.product(name="Motor", price=Decimal("18.50"), taxes=("21%",))
        repair = repairs.create(
            ticket.id,
            invoice_method=InvoiceMethod.AFTER_REPAIR,
            parts=[
                PartLine(action=PartAction.ADD, product_id=motor.id, quantity=Decimal(1)),
                PartLine(action=PartAction.REMOVE, product_id=motor.id, quantity=Decimal(1)),
            ],
            operations=[OperationLine(product_id=_labour(kit).id, quantity=Decimal("1.5"))],
            quotation_notes="Parts are guaranteed for 6 months.",
            scheduled_date=kit.clock.today() + timedelta(days=3),
            actor=AGENT,
        )
        assert (repair.reference, repair.state) == ("RO/00001", RepairState.DRAFT)
        assert (repair.product_id, repair.customer_id, repair.invoice_address_id) == (
            scenario.blender.id,
            scenario.customer.id,
            scenario.customer.id,
        )
        assert kit.read(lambda h: h.get_repair(repair.id)) == repair
        steps = (repairs.confirm, repairs.start, repairs.end)
        states = [step(repair.id, actor=AGENT).state for step in steps]
        assert states == [RepairState.CONFIRMED, RepairState.UNDER_REPAIR, RepairState.TO_INVOICE]
        with kit.unchanged(), pytest.raises(InvalidState, match=r"to.invoice"):
            repairs.start(repair.id, actor=AGENT)

        invoiced = repairs.create_invoice(repair.id, actor=AGENT)
        invoice = invoiced.invoice
        assert invoiced.repair.state is RepairState.DONE
        assert invoiced.repair.invoice_id == invoice.id
        assert (invoice.state, invoice.reference, invoice.note) == (
            InvoiceState.DRAFT,
            "RO/00001",
            "Parts are guaranteed for 6 months.",
        )
        # Motor 18.50 + 3.89 tax, labour 1.5 × 30.00 + 9.45 tax: the removed part is free.
        assert [line.amounts.total for line in invoice.lines] == [_eur("22.39"), _eur("54.45")]
        assert invoice.total == _eur("76.84")
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == invoice
        assert repairs.repairs(ticket.id, actor=AGENT) == (invoiced.repair,)
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert (view.counts.repairs, view.counts.invoices) == (1, 1)
        assert [(d.kind, d.name, d.state) for d in view.documents] == [
            (DocumentKind.REPAIR, "RO/00001", "done"),
            (DocumentKind.INVOICE, "Draft", "draft"),
        ]

    def test_rp7_references_follow_the_sequence_and_stay_unique(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        made = [
            kit.app.repairs.create(scenario.ticket.id, actor=AGENT, idempotency_key=f"rp7-{n}")
            for n in range(3)
        ]
        assert [r.reference for r in made] == ["RO/00001", "RO/00002", "RO/00003"]
        # Each order carries the reference of the call that made it.
        found = kit.read(lambda h: [list(h.find_repairs(_ref(f"rp7-{n}"))) for n in range(3)])
        assert found == [[repair] for repair in made]

    def test_rp10_deleting_a_draft_unlinks_it_and_a_confirmed_one_stays(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        repairs, ticket = kit.app.repairs, scenario.ticket
        draft = repairs.create(ticket.id, actor=AGENT)
        kept = repairs.confirm(repairs.create(ticket.id, actor=AGENT).id, actor=AGENT)
        with kit.unchanged(), pytest.raises(InvalidState, match="draft or cancelled"):
            repairs.delete(kept.id, actor=AGENT)
        assert repairs.delete(draft.id, actor=AGENT) == draft
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_repair(draft.id))
        assert repairs.repairs(ticket.id, actor=AGENT) == (kept,)
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.repairs == 1
        assert [d.name for d in view.documents] == ["RO/00002"]
        assert view.trail[0].body == "Repair deleted: RO/00001"
        assert repairs.create(ticket.id, actor=AGENT).reference == "RO/00003"


class FieldServiceFlow(ScenarioFlow):
    """On-site tasks from a ticket: creation (FS-1, FS-2, FS-4), stages (FS-3) and the
    customer portal (FS-6)."""

    def test_fs1_fs2_fs4_a_task_is_created_and_linked(self, kit: Kit, scenario: Scenario) -> None:
        service, ticket = kit.app.field_service, scenario.ticket
        planned = datetime(2026, 12, 2, 8, 30, 15, 250, tzinfo=timezone(timedelta(hours=-3)))
        opened = service.create_and_view_task(
            ticket.id, planned_at=planned, assignee_id="tech-1", actor=AGENT
        )
        task = opened.task
        assert (task.title, task.stage, task.project_id) == (
            "Blender broken",
            TaskStage.NEW,
            scenario.project.id,
        )
        assert task.customer_id == scenario.customer.delivery_address_id
        assert task.description == ticket.description
        assert task.planned_at is not None
        assert task.planned_at.isoformat() == planned.isoformat()
        assert (opened.project_name, opened.route) == ("Field Service", f"/tasks/{task.id}")
        assert kit.read(lambda h: h.get_task(task.id)) == task
        office = kit.world.project(name="Office", fsm=False)
        for kwargs, message in (({"title": "  "}, "title"), ({"project_id": office.id}, "Office")):
            with kit.unchanged(), pytest.raises(InvalidInput, match=message):
                service.create_task(ticket.id, actor=AGENT, **kwargs)  # type: ignore[arg-type]
        other = service.create_task(ticket.id, title="Bring a spare motor", actor=AGENT)
        assert service.tasks(ticket.id, actor=AGENT) == (task, other)
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert view.counts.tasks == 2
        assert view.trail[-1].body == "Task created: Blender broken (project Field Service)"

    def test_fs3_a_task_moves_through_its_stages_to_done(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        service, ticket = kit.app.field_service, scenario.ticket
        task = service.create_task(ticket.id, actor=AGENT)
        moved = [
            service.set_stage(task.id, TaskStage.PLANNED, actor=AGENT).stage,
            service.set_stage(task.id, TaskStage.IN_PROGRESS, actor=AGENT).stage,
            service.mark_done(task.id, actor=AGENT).stage,
        ]
        assert moved == [TaskStage.PLANNED, TaskStage.IN_PROGRESS, TaskStage.DONE]
        with kit.unchanged(), pytest.raises(InvalidState, match="already done"):
            service.mark_done(task.id, actor=AGENT)
        with kit.unchanged(), pytest.raises(InvalidState, match="closed"):
            service.set_stage(task.id, TaskStage.PLANNED, actor=AGENT)
        assert kit.read(lambda h: h.get_task(task.id)).stage is TaskStage.DONE
        view = kit.app.tickets.view(ticket.id, actor=AGENT)
        assert [(d.name, d.state) for d in view.documents] == [("Blender broken", "done")]
        assert view.trail[0].body == "Task done: Blender broken"

    def test_fs6_the_portal_shows_a_customer_only_their_tasks(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        service = kit.app.field_service
        planned = datetime(2026, 12, 3, 14, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
        first = service.create_task(
            scenario.ticket.id, planned_at=planned, assignee_id="tech-1", actor=AGENT
        )
        kit.clock.advance(minutes=10)
        later = kit.world.ticket(
            team=scenario.team, title="Kettle leaks", customer=scenario.colleague
        )
        hidden_project = kit.world.project(name="Internal works", portal_visible=False)
        second = service.create_task(later.id, actor=AGENT)
        service.create_task(later.id, project_id=hidden_project.id, actor=AGENT)
        ana = Actor(user_id="portal-ana", groups={Group.PORTAL}, partner_id=scenario.customer.id)
        stranger = Actor(
            user_id="portal-otro", groups={Group.PORTAL}, partner_id=scenario.other_customer.id
        )
        seen = service.portal_tasks(actor=ana)
        assert [(t.task_id, t.ticket_ref, t.stage) for t in seen] == [
            (second.id, later.ref, TaskStage.NEW),
            (first.id, scenario.ticket.ref, TaskStage.NEW),
        ]
        assert (seen[1].planned_at, seen[1].assignee_id) == (planned, "tech-1")
        assert service.portal_task(first.id, actor=ana) == seen[1]
        assert service.portal_tasks(actor=stranger) == ()
        with pytest.raises(NotFound):
            service.portal_tasks(actor=stranger, ticket_id=scenario.ticket.id)
        with pytest.raises(NotFound):
            service.portal_task(first.id, actor=stranger)


class PersistenceFlow(ScenarioFlow):
    """Data survives a restart: documents made through every service read back the same
    from a new application on the same store (needs the `persistent` capability). The
    restart is in this process; `PersistenceContract` reads back in a new one."""

    def test_after_a_restart_the_ticket_view_and_documents_are_identical(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        kit.require(Capability.PERSISTENT)
        ticket = scenario.ticket
        app = kit.app
        app.refunds.reverse(ticket.id, scenario.invoice.id, method=CreditMethod.FULL, actor=AGENT)
        kit.clock.advance(minutes=3)
        draft = app.refunds.reverse(
            ticket.id, scenario.paid_invoice.id, lines=[scenario.paid_invoice.lines[0]], actor=AGENT
        )
        coupon = app.coupons.generate(
            ticket.id,
            scenario.program.id,
            expires_on=kit.clock.today() + timedelta(days=60),
            actor=AGENT,
        )
        app.coupons.send(ticket.id, coupon.id, actor=AGENT)
        app.coupons.redeem(coupon.code, order_reference="S00077", actor=AGENT)
        kit.clock.advance(minutes=3)
        half = {scenario.delivery.moves[0].id: Decimal(1)}
        made = app.returns.create(ticket.id, scenario.delivery.id, half, actor=AGENT)
        app.returns.validate(made.id, actor=AGENT)
        repair = app.repairs.create(
            ticket.id,
            operations=[OperationLine(product_id=_labour(kit).id, quantity=Decimal("1.25"))],
            actor=AGENT,
        )
        app.repairs.confirm(repair.id, actor=AGENT)
        planned = datetime(2026, 12, 1, 7, 45, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
        task = app.field_service.create_task(
            ticket.id, planned_at=planned, assignee_id="tech-2", actor=AGENT
        )
        app.field_service.set_stage(task.id, TaskStage.PLANNED, actor=AGENT)
        portal = Actor(user_id="portal-ana", groups={Group.PORTAL}, partner_id=scenario.customer.id)

        def everything(app: AfterSales) -> tuple[object, ...]:
            return (
                app.tickets.view(ticket.id, actor=AGENT),
                app.refunds.credit_notes(ticket.id, actor=AGENT),
                app.refunds.invoices_to_refund(ticket.id, actor=AGENT),
                app.coupons.coupons(ticket.id, actor=AGENT),
                app.returns.returns(ticket.id, actor=AGENT),
                app.returns.prepare(ticket.id, scenario.delivery.id, actor=AGENT),
                app.repairs.repairs(ticket.id, actor=AGENT),
                app.field_service.tasks(ticket.id, actor=AGENT),
                app.field_service.portal_tasks(actor=portal),
                app.outbox.emails(actor=SYSTEM),
                tuple(app.hooks.audit_list(ticket.id)),
                app.subscription.status(actor=MANAGER),
            )

        before = everything(app)
        stored = kit.backend.snapshot()
        again = kit.reopen()
        assert everything(again) == before
        assert kit.backend.snapshot() == stored
        # Work goes on where it stopped: sequences and caps are those of the store.
        numbers = {n.number for n in again.refunds.credit_notes(ticket.id, actor=AGENT)}
        posted = again.refunds.confirm(draft.credit_note.id, actor=AGENT).credit_note
        assert posted.number is not None
        assert posted.number not in numbers
        assert again.repairs.create(ticket.id, actor=AGENT).reference == "RO/00002"
        with pytest.raises(InvalidCoupon, match="already been used"):
            again.coupons.redeem(coupon.code, actor=AGENT)


class AtomicityFlow(ScenarioFlow):
    """RL-1 on the backend under test: one mutating call of each service is made to fail at
    its 1st, 2nd, … hook call (`sweep_faults()`); every failed
    attempt must leave the whole store as it was, and the last attempt succeeds."""

    def test_rl1_a_full_and_reinvoice_refund_fails_cleanly_at_every_step(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        invoice = kit.world.invoice(
            customer=scenario.customer, lines=[(scenario.blender, 2)], paid=Decimal("50.00")
        )
        report = sweep_faults(
            kit.app,
            kit.backend,
            lambda: kit.app.refunds.reverse(
                scenario.ticket.id,
                invoice.id,
                method=CreditMethod.FULL_AND_REINVOICE,
                actor=AGENT,
                idempotency_key="rl1-refund",
            ),
            name="refunds.reverse",
        )
        assert report.faults_injected >= 15
        after = kit.read(lambda h: h.get_invoice(invoice.id))
        assert (after.payment_state, after.residual) == (PaymentState.REVERSED, _eur("0.00"))
        # Every failed attempt left nothing at the ERP: one credit note, one new draft.
        [note] = kit.app.refunds.credit_notes(scenario.ticket.id, actor=AGENT)
        found = kit.read(lambda h: list(h.find_by_reference(_ref("rl1-refund"))))
        assert sorted((i.kind, i.state) for i in found) == [
            (InvoiceKind.CREDIT_NOTE, InvoiceState.POSTED),
            (InvoiceKind.INVOICE, InvoiceState.DRAFT),
        ]
        assert note in found

    def test_rl1_coupon_generation_and_sending_fail_cleanly_at_every_step(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        coupons, ticket = kit.app.coupons, scenario.ticket
        made: list[CouponInfo] = []
        sweep_faults(
            kit.app,
            kit.backend,
            lambda: made.append(coupons.generate(ticket.id, scenario.program.id, actor=AGENT)),
            name="coupons.generate",
        )
        report = sweep_faults(
            kit.app,
            kit.backend,
            lambda: coupons.send(ticket.id, made[-1].id, actor=AGENT),
            name="coupons.send",
        )
        assert report.faults_injected >= 8
        (sent,) = kit.app.outbox.emails(actor=SYSTEM)
        assert (sent.state, sent.attempts) == (EmailState.SENT, 1)
        # A delivery that fails after the commit keeps the email as failed; a retry sends it.
        with FaultInjector(kit.app).armed(fail_at=1, after_commit=True):
            again = coupons.send(ticket.id, made[-1].id, actor=AGENT)
        (failed,) = kit.app.outbox.emails(pending_only=True, actor=SYSTEM)
        assert (failed.id, failed.state, failed.attempts) == (again.email_id, EmailState.FAILED, 1)
        assert "InjectedFault" in failed.last_error
        (retried,) = kit.app.outbox.retry(actor=SYSTEM)
        assert (retried.id, retried.state, retried.attempts) == (failed.id, EmailState.SENT, 2)
        assert kit.app.outbox.emails(pending_only=True, actor=SYSTEM) == ()
        assert kit.app.tickets.view(ticket.id, actor=AGENT).counts.coupons == 1

    def test_rl1_a_return_fails_cleanly_at_every_step(self, kit: Kit, scenario: Scenario) -> None:
        returns, ticket, delivery = kit.app.returns, scenario.ticket, scenario.delivery
        quantities = {delivery.moves[0].id: Decimal(2)}
        made: list[Picking] = []
        sweep_faults(
            kit.app,
            kit.backend,
            lambda: made.append(returns.create(ticket.id, delivery.id, quantities, actor=AGENT)),
            name="returns.create",
        )
        sweep_faults(
            kit.app,
            kit.backend,
            lambda: returns.validate(made[-1].id, actor=AGENT),
            name="returns.validate",
        )
        # a name drawn by a unit that then failed may be lost (a sequence takes no lock)
        taken = kit.read(lambda h: h.get_delivery(delivery.id)).moves[0]
        assert (taken.returned, taken.reserved) == (Decimal(2), Decimal(0))
        assert kit.read(lambda h: h.get_picking(made[-1].id)).state is PickingState.DONE

    def test_rl1_invoicing_a_repair_fails_cleanly_at_every_step(
        self, kit: Kit, scenario: Scenario
    ) -> None:
        repairs = kit.app.repairs
        repair = repairs.create(
            scenario.ticket.id,
            invoice_method=InvoiceMethod.BEFORE_REPAIR,
            operations=[OperationLine(product_id=_labour(kit).id, quantity=Decimal(2))],
            actor=AGENT,
        )
        repairs.confirm(repair.id, actor=AGENT)
        done: list[RepairInvoiced] = []
        report = sweep_faults(
            kit.app,
            kit.backend,
            lambda: done.append(repairs.create_invoice(repair.id, actor=AGENT)),
            name="repairs.create_invoice",
        )
        assert report.faults_injected >= 8
        assert done[-1].repair.state is RepairState.READY
        assert done[-1].invoice.total == _eur("72.60")

    def test_rl1_a_task_fails_cleanly_at_every_step(self, kit: Kit, scenario: Scenario) -> None:
        service = kit.app.field_service
        made: list[TaskView] = []
        sweep_faults(
            kit.app,
            kit.backend,
            lambda: made.append(service.create_and_view_task(scenario.ticket.id, actor=AGENT)),
            name="field_service.create_and_view_task",
        )
        sweep_faults(
            kit.app,
            kit.backend,
            lambda: service.mark_done(made[-1].task.id, actor=AGENT),
            name="field_service.mark_done",
        )
        assert kit.read(lambda h: h.get_task(made[-1].task.id)).stage is TaskStage.DONE


class ServiceFlows(
    SettingsFlow,
    SubscriptionFlow,
    TicketViewFlow,
    RefundFlow,
    CouponFlow,
    ReturnFlow,
    RepairFlow,
    FieldServiceFlow,
    PersistenceFlow,
    AtomicityFlow,
):
    """Every end-to-end flow."""
