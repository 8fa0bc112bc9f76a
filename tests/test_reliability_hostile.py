"""RL-4 and G-7 on the memory backend: hostile values for every parameter of every public
call, and the fixes the sweep led to, each with a worked example."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aftersales.errors import InvalidInput, NotFound
from aftersales.models._fields import check_id
from aftersales.models.products import round_quantity
from aftersales.testing import assert_unchanged
from tests.reliability.contract import HostileInputContract
from tests.reliability.hostile import (
    CALLS,
    Case,
    Hostile,
    PublicCall,
    call_named,
    check_case,
    prepare_targets,
)
from tests.reliability.setting import Setting


class TestHostileInputOnMemory(HostileInputContract):
    pass


# -- the check itself can fail ------------------------------------------------------------------


def test_check_case_reports_a_raw_exception_a_wrong_field_and_a_value_let_through(
    setting: Setting,
) -> None:
    targets = prepare_targets(setting)
    view = call_named("tickets.view")
    raw = Case(view, "ticket_id", Hostile("raw", "x", TypeError))
    assert "expected TypeError" in (check_case(setting, targets, raw) or "")
    field = Case(view, "ticket_id", Hostile("field", 42, InvalidInput, field="team_id"))
    assert "naming field 'ticket_id', not 'team_id'" in (check_case(setting, targets, field) or "")
    through = Case(view, "ticket_id", Hostile("through", targets.ticket.id, InvalidInput))
    assert "was accepted" in (check_case(setting, targets, through) or "")


def test_calls_have_unique_names() -> None:
    names = [call.name for call in CALLS]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError):
        call_named("refunds.nope")
    assert isinstance(call_named("refunds.reverse"), PublicCall)


# -- fixes found by the sweep -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["ticket-1\n", "ticket 1", "", "x" * 129, "tïcket", "a'--", "t\x00", 7, None]
)
def test_rl4_an_id_that_no_record_can_have_is_bad_input(value: Any) -> None:
    """Ids are checked with ``fullmatch``: a trailing newline no longer slips past ``$``."""
    with pytest.raises(InvalidInput, match=r"^ticket_id=.*is not a valid id"):
        check_id(value, "ticket_id")
    assert check_id("ticket-1", "ticket_id") == "ticket-1"


@pytest.mark.parametrize(
    ("call", "arguments"),
    [
        ("tickets.view", {"ticket_id": "ticket-1\x00"}),
        ("settings.team_settings", {"team_id": "team 1"}),
        ("refunds.credit_methods", {"invoice_id": "INV/2026/1\n"}),
        ("returns.validate", {"return_id": "x" * 200}),
        ("coupons.send", {"coupon_id": "coupon'; --"}),
        ("field_service.mark_done", {"task_id": "task\r\n1"}),
        ("repairs.repair", {"repair_id": 42}),
        ("settings.configure", {"fsm_project_id": "Field Service"}),
    ],
)
def test_rl4_g7_malformed_ids_are_refused_before_any_lookup(
    setting: Setting, call: str, arguments: dict[str, Any]
) -> None:
    """Before, these went to the backend and came back ``NotFound`` (or, with a NUL, could
    make a SQL driver fail); now they are ``InvalidInput`` naming the parameter."""
    targets = prepare_targets(setting)
    name = next(iter(arguments))
    case = Case(call_named(call), name, Hostile("malformed", arguments[name], InvalidInput))
    assert check_case(setting, targets, case) is None


@pytest.mark.parametrize("quantity", [Decimal("1e30"), 10**30, Decimal("1e400")])
def test_rl4_a_huge_quantity_is_bad_input_not_a_decimal_error(
    setting: Setting, quantity: Any
) -> None:
    """Rounding 1e30 to a unit used to raise ``decimal.InvalidOperation``."""
    ticket, delivery = setting.ticket(), setting.delivery()
    app, agent = setting.app, setting.agent
    with (
        pytest.raises(InvalidInput, match=r"must be smaller than 1,000,000,000,000,000"),
        assert_unchanged(setting.backend),
    ):
        app.returns.create(ticket.id, delivery.id, {delivery.moves[0].id: quantity}, actor=agent)
    with pytest.raises(InvalidInput, match=r"^quantity="), assert_unchanged(setting.backend):
        app.repairs.create(ticket.id, quantity=quantity, actor=agent)
    with pytest.raises(InvalidInput, match="smaller than"):
        round_quantity(quantity, 0)
    assert round_quantity(Decimal("999999999999999"), 0) == Decimal("999999999999999")


def test_rf2_an_order_of_another_customer_is_bad_input(setting: Setting) -> None:
    """Listing the invoices of another customer's order used to answer an empty list."""
    other = setting.world.sale_order(customer=setting.scenario.other_customer, name="S09999")
    ticket = setting.ticket()
    with pytest.raises(InvalidInput, match=r"^sale_order_id=.*S09999 is not an order of"):
        setting.app.refunds.invoices_to_refund(
            ticket.id, sale_order_id=other.id, actor=setting.agent
        )
    own = setting.app.refunds.invoices_to_refund(
        ticket.id, sale_order_id=setting.scenario.order.id, actor=setting.agent
    )
    assert setting.scenario.invoice.id in {invoice.id for invoice in own}


def test_rp12_a_repair_id_of_the_wrong_type_is_bad_input(setting: Setting) -> None:
    ticket = setting.ticket()
    with pytest.raises(InvalidInput, match=r"^repair_id=42"):
        setting.app.repairs.repair(ticket.id, 42, actor=setting.agent)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="repair order repair-unknown does not exist"):
        setting.app.repairs.repair(ticket.id, "repair-unknown", actor=setting.agent)


@pytest.mark.parametrize("ref", ["#", " # ", "#  "])
def test_rl4_a_ticket_number_without_digits_is_bad_input(setting: Setting, ref: str) -> None:
    """``tickets.find("#")`` used to look up the empty number and answer ``NotFound``."""
    with pytest.raises(InvalidInput, match=r"^ref=.*has no ticket number"):
        setting.app.tickets.find(ref, actor=setting.agent)
    ticket = setting.ticket()
    assert setting.app.tickets.find(f" #{ticket.ref} ", actor=setting.agent) == ticket
