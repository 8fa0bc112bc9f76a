"""The ticket view gives labels, ready for a template, beside the keys of its documents."""

from __future__ import annotations

from aftersales import AfterSales, CreditMethod
from aftersales.formatting import label
from aftersales.testing.scenario import Scenario


def test_linked_documents_carry_the_labels_of_their_kind_and_state(
    scenario: Scenario, app: AfterSales
) -> None:
    agent, ticket = scenario.actors.agent, scenario.ticket
    app.refunds.reverse(ticket.id, scenario.invoice.id, method=CreditMethod.FULL, actor=agent)
    app.coupons.generate(ticket.id, scenario.program.id, actor=agent)
    app.repairs.create(ticket.id, actor=agent)
    app.field_service.create_task(ticket.id, actor=agent)
    view = app.tickets.view(ticket.id, actor=agent)
    shown = {(d.kind.value, d.state, d.kind_label, d.state_label) for d in view.documents}
    assert shown == {
        ("credit_note", "posted", "Credit note", "Posted"),
        ("coupon", "valid", "Coupon", "Valid"),
        ("repair", "draft", "Repair", "Draft"),
        ("task", "new", "Task", "New"),
    }
    assert view.actions == ("Refund", "Coupon", "Return", "Repair", "Create task")


def test_a_label_is_the_key_in_words() -> None:
    assert [label(k) for k in ("under_repair", "to_invoice", "in_progress")] == [
        "Under repair",
        "To invoice",
        "In progress",
    ]
