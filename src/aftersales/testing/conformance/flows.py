"""End-to-end flows through :class:`~aftersales.AfterSales` on the backend under test.

Each flow class drives the public services the way a helpdesk does and checks what the
user sees, so a backend passes only if the whole library works on it.

Adding a flow for a service (refunds, coupons, returns, repairs, field service): write a
``<Service>Flow(ContractBase)`` class below, build the world with
:func:`~aftersales.testing.build_scenario` on ``kit.world``, call ``kit.app.<service>`` and
assert on results, the ticket view and ``kit.unchanged()`` for refusals; then add it to
:class:`ServiceFlows`. The suite runs it on every backend with no other change.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import DatabaseLocked, InvalidInput
from aftersales.models import (
    DocumentKind,
    DocumentLink,
    Invoice,
    InvoiceKind,
    InvoiceState,
    Service,
    SubscriptionState,
    TicketMessage,
)
from aftersales.services.tickets import TicketAction
from aftersales.testing.scenario import AGENT, MANAGER, SYSTEM, Scenario, build_scenario

from ._kit import ContractBase, Kit

__all__ = ["ServiceFlows", "SettingsFlow", "SubscriptionFlow", "TicketViewFlow"]


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


class TicketViewFlow(ContractBase):
    """The ticket view over the standard scenario: actions, documents, counts, trail."""

    @pytest.fixture
    def scenario(self, kit: Kit) -> Scenario:
        return build_scenario(kit.world)

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
        note = Invoice(
            id="cn-flow-1",
            kind=InvoiceKind.CREDIT_NOTE,
            customer_id=invoice.customer_id,
            currency="EUR",
            lines=(attrs.evolve(invoice.lines[0], quantity=Decimal(1)),),
            state=InvoiceState.POSTED,
            created_at=kit.clock.now(),
            invoice_date=kit.clock.today(),
            number="RINV/2026/00001",
            reversed_invoice_id=invoice.id,
            ticket_id=scenario.ticket.id,
        )
        now = kit.clock.now()

        def link(h: object) -> None:
            kit.hooks.save_invoice(note)
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
        view = kit.app.tickets.view(scenario.ticket.id, actor=AGENT)
        assert view.counts.credit_notes == 1
        assert [(d.name, d.state, d.detail) for d in view.documents] == [
            ("RINV/2026/00001", "posted", str(note.total))
        ]
        assert note.total.amount == Decimal("60.44")
        assert [m.body for m in view.trail] == ["Credit note sent", "Credit note created"]


class ServiceFlows(SettingsFlow, SubscriptionFlow, TicketViewFlow):
    """Every end-to-end flow; service flows join here as the services are written."""
