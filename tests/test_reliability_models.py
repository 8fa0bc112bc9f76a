"""Stateful models of coupons and repairs on the memory backend (refunds and returns have
theirs in ``test_refunds_properties.py`` and ``test_returns_stateful.py``)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from aftersales import AfterSales, FrozenClock, hookimpl
from aftersales.backends.memory import MemoryBackend
from aftersales.models import InvoiceMethod, RepairState
from tests.reliability.contract import ModelContract
from tests.reliability.models import (
    CouponModel,
    RepairModel,
    _next,
    _Repair,
    run_model,
)
from tests.reliability.setting import Setting


class TestModelsOnMemory(ModelContract):
    pass


@pytest.mark.parametrize(
    ("method", "actions", "states"),
    [
        (InvoiceMethod.NONE, ["confirm", "start", "end"], ["confirmed", "under_repair", "done"]),
        (
            InvoiceMethod.BEFORE_REPAIR,
            ["confirm", "create_invoice", "start", "end"],
            ["to_invoice", "ready", "under_repair", "done"],
        ),
        (
            InvoiceMethod.AFTER_REPAIR,
            ["confirm", "start", "end", "create_invoice"],
            ["confirmed", "under_repair", "to_invoice", "done"],
        ),
        (InvoiceMethod.NONE, ["cancel", "reset_to_draft"], ["cancelled", "draft"]),
    ],
)
def test_rp8_the_model_restates_the_life_cycle(
    method: InvoiceMethod, actions: list[str], states: list[str]
) -> None:
    """The model's own table, on the paths of the spec (not the library's TRANSITIONS)."""
    repair = _Repair(id="r", reference="RO/1", method=method, billable=True)
    for action, state in zip(actions, states, strict=True):
        target = _next(repair, action)
        assert target is RepairState(state)
        repair.state = target
        if action == "create_invoice":
            repair.invoice_id = "inv"
    assert _next(attr_done(), "cancel") is None


def attr_done() -> _Repair:
    return _Repair(
        id="r", reference="RO/1", method=InvoiceMethod.NONE, billable=True, state=RepairState.DONE
    )


@pytest.mark.slow
@pytest.mark.parametrize("machine", [CouponModel, RepairModel], ids=["coupons", "repairs"])
def test_the_models_hold_over_many_more_examples(
    app: AfterSales, backend: MemoryBackend, machine: type[CouponModel] | type[RepairModel]
) -> None:
    run_model(machine, Setting.create(app, backend), max_examples=150, steps=30)


class MiscountingUses:
    """A backend part that always reports a program as unused."""

    @hookimpl(wrapper=True)
    def aftersales_loyalty_count_uses(self, program_id: str) -> Generator[None, int, int]:
        yield  # the backend's count, thrown away
        return 0


def test_the_coupon_model_catches_a_backend_that_miscounts_uses(
    backend: MemoryBackend, clock: FrozenClock
) -> None:
    app = AfterSales(backend, clock=clock, plugins=[MiscountingUses()])
    with pytest.raises((AssertionError, ExceptionGroup)):
        run_model(
            CouponModel,
            Setting.create(app, backend),
            max_examples=50,
            shrink=False,
            derandomize=True,
        )
    assert clock.now().isoformat() == "2026-11-28T09:00:00+00:00"  # the clock is put back
