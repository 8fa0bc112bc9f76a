"""RL-1 on the memory backend: a fault at every hook call of every mutating call.

The contract (shipped in the wheel) runs the sweep; the tests below prove the sweep can
fail: a backend that does not roll back, a call that swallows a fault, a retry that does
the work twice are all caught.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.memory.store import MISSING
from aftersales.hookspecs import hookimpl
from aftersales.models import TicketMessage
from aftersales.testing.faults import FaultInjector, InjectedFault
from tests.reliability.checks import inject_faults
from tests.reliability.contract import FaultContract
from tests.reliability.flows import FLOWS, flow_named
from tests.reliability.setting import Setting


class TestFaultsOnMemory(FaultContract):
    pass


class LeakyBackend(MemoryBackend):
    """Writes trail messages around its undo log, as a backend outside the transaction would."""

    @hookimpl
    def aftersales_store_post_message(self, message: TicketMessage) -> TicketMessage:
        with self.store.lock:
            self.store._write("messages", message.id, MISSING, message)
        return message


def _setting(backend: MemoryBackend, clock: FrozenClock) -> Setting:
    return Setting.create(AfterSales(backend, clock=clock), backend)


def test_the_sweep_catches_a_backend_that_does_not_roll_back(clock: FrozenClock) -> None:
    setting = _setting(LeakyBackend(), clock)
    with pytest.raises(AssertionError, match=r"left changes behind:\nmessages: added"):
        inject_faults(setting, flow_named("repairs.create"))


def test_the_sweep_catches_a_call_that_swallows_a_fault(setting: Setting) -> None:
    real = flow_named("returns.create")

    def swallowing(s: Setting, state: Any, key: str | None) -> object:
        try:
            return real.perform(s, state, key)
        except InjectedFault:
            return real.perform(s, state, key)

    with pytest.raises(AssertionError, match="was swallowed: the call succeeded anyway"):
        inject_faults(setting, attrs.evolve(real, perform=swallowing))


def test_the_sweep_catches_a_retry_that_does_more_than_a_clean_call(setting: Setting) -> None:
    real = flow_named("coupons.generate")

    def more(s: Setting, state: Any, key: str | None) -> object:
        result = real.perform(s, state, key)
        if key == "rl-faults":  # the retry, not the clean call: one record too many
            s.world.customer(name="Left over")
        return result

    with pytest.raises(AssertionError, match="did not do exactly what one clean call does"):
        inject_faults(setting, attrs.evolve(real, perform=more))


def test_rl1_every_flow_is_broken_at_each_of_its_hook_calls(setting: Setting) -> None:
    """Worked example: a FULL refund of a paid invoice makes 15 hook calls before its
    commit (one coarse call to the ERP where there were seven fine ones, and one that reads
    the team's after-sales settings from the store); each is broken once, 15 faults."""
    result = inject_faults(setting, flow_named("refunds.reverse[full]"))
    assert (result.hook_calls, result.faults) == (15, 15)


def test_the_injector_spares_the_delivery_after_the_commit(setting: Setting) -> None:
    flow = flow_named("coupons.send")
    injector = FaultInjector(setting.app)
    with injector.armed():
        flow.perform(setting, flow.prepare(setting), None)
    # deliver, then record the outcome: a unit of work that reads the email locked and saves it
    assert injector.calls[injector.before_commit :] == [
        "aftersales_mail_deliver",
        "aftersales_transaction_begin",
        "aftersales_store_mail_get",
        "aftersales_store_mail_save",
    ]
    with injector.armed(fail_at=injector.before_commit + 1):  # beyond the commit: no fault
        flow.perform(setting, flow.prepare(setting), None)


def test_flows_have_unique_names() -> None:
    names = [flow.name for flow in FLOWS]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError, match="no flow 'nope'"):
        flow_named("nope")


@pytest.fixture
def setting(app: AfterSales, backend: MemoryBackend) -> Setting:
    return Setting.create(app, backend)
