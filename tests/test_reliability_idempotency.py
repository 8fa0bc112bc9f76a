"""RL-2 (and RL-6) on the memory backend: replays, conflicting keys, malformed keys."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from aftersales import Service
from aftersales.errors import IdempotencyConflict, InvalidInput
from aftersales.testing import assert_unchanged
from tests.reliability.checks import check_audit, check_conflict
from tests.reliability.contract import IdempotencyContract
from tests.reliability.flows import flow_named
from tests.reliability.setting import Setting


class TestIdempotencyOnMemory(IdempotencyContract):
    pass


def test_the_conflict_check_fails_when_other_arguments_go_through(setting: Setting) -> None:
    real = flow_named("coupons.generate")
    unkeyed = attrs.evolve(real, vary=lambda s, state, key: real.perform(s, state, None))
    with pytest.raises(AssertionError, match="other arguments under the same key went through"):
        check_conflict(setting, unkeyed)


def test_rl2_a_key_used_for_another_call_is_a_conflict(setting: Setting) -> None:
    ticket = setting.ticket()
    setting.app.field_service.create_task(ticket.id, actor=setting.agent, idempotency_key="k-1")
    with (
        pytest.raises(IdempotencyConflict, match=r"k-1 was used for field_service\.create_task"),
        assert_unchanged(setting.backend),
    ):
        setting.app.repairs.create(ticket.id, actor=setting.agent, idempotency_key="k-1")


@pytest.mark.parametrize("key", [["k"], {"k": 1}, 42, "", "k" * 257, "k\x00", "k\r\nX: y"])
def test_rl2_rl4_a_malformed_key_is_refused_before_anything_is_looked_up(
    setting: Setting, key: Any
) -> None:
    """A list used to crash with ``TypeError: unhashable type``; every bad key now names
    ``idempotency_key``."""
    ticket = setting.ticket()
    with (
        pytest.raises(InvalidInput, match=r"^idempotency_key=") as refusal,
        assert_unchanged(setting.backend),
    ):
        setting.app.repairs.create(ticket.id, actor=setting.agent, idempotency_key=key)
    assert refusal.value.field == "idempotency_key"


def test_rl6_the_trial_started_by_a_configuration_carries_its_key(setting: Setting) -> None:
    """A trial started by ``configure`` is audited with the call's idempotency key."""
    app, manager = setting.app, setting.manager
    app.settings.uninstall("repair", actor=manager)
    team = setting.world.team(name="Workshop")
    trail = list(app.hooks.audit_list())
    app.settings.configure(
        team.id, enable={Service.REPAIRS}, actor=manager, idempotency_key="cfg-1"
    )
    added = list(app.hooks.audit_list())[len(trail) :]
    assert "subscription trial" in [entry.action for entry in added]
    check_audit(setting, flow_named("settings.configure[install]"), trail, "cfg-1")
