"""The reliability suite as pytest contract classes (RL-1 … RL-6), for any backend.

Combine them with the plugin's fixtures; `aftersales_backend` decides the backend:

```python
from aftersales.testing.reliability.contract import ReliabilityContract

class TestMyBackendReliability(ReliabilityContract):
    pass   # with an `aftersales_backend` fixture returning your backend
```

The backend needs `builder(clock)` and `snapshot()` (see
[`ReliabilityBackend`][aftersales.testing.reliability.setting.ReliabilityBackend]) and the
application a [`FrozenClock`][aftersales.clock.FrozenClock] (the plugin's `aftersales_clock` is
one). The classes are not collected on their own (their names do not start with `Test`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from aftersales.app import AfterSales
from aftersales.testing.reliability.checks import (
    check_after_commit,
    check_conflict,
    check_replay,
    inject_faults,
)
from aftersales.testing.reliability.concurrency import (
    RACES,
    Race,
    Runner,
    check_bounded_retries,
    check_transient_conflicts,
    run_race,
)
from aftersales.testing.reliability.flows import FLOWS, Flow, mutating_calls
from aftersales.testing.reliability.hostile import (
    CALLS,
    PublicCall,
    Targets,
    cases,
    check_cases,
    invoke,
    prepare_targets,
    public_calls,
)
from aftersales.testing.reliability.models import MODEL_RUNS, CouponModel, RepairModel, run_model
from aftersales.testing.reliability.setting import Setting

__all__ = [
    "ConcurrencyContract",
    "FaultContract",
    "HostileInputContract",
    "IdempotencyContract",
    "ModelContract",
    "ReliabilityContract",
]


def _flow_id(flow: Flow) -> str:
    return flow.name


class _Base:
    @pytest.fixture
    def reliability(self, aftersales_app: AfterSales, aftersales_backend: Any) -> Setting:
        """The standard world on the backend under test, with a witness of what leaves."""
        return Setting.create(aftersales_app, aftersales_backend)


class FaultContract(_Base):
    """RL-1: a fault at any hook call of any mutating call changes nothing."""

    def test_rl1_every_mutating_call_has_a_flow(self, aftersales_app: AfterSales) -> None:
        assert mutating_calls(aftersales_app) == {flow.call for flow in FLOWS}

    @pytest.mark.parametrize("flow", FLOWS, ids=_flow_id)
    def test_rl1_rl2_a_fault_at_any_hook_call_changes_nothing_and_the_retry_runs_once(
        self, reliability: Setting, flow: Flow
    ) -> None:
        """Every hook call before the commit is broken in turn: the store stays as it was,
        nothing is dispatched or emailed; then the call under the same key goes through
        exactly once (as a clean call does) and replays."""
        result = inject_faults(reliability, flow)
        assert result.faults == result.hook_calls > 0

    @pytest.mark.parametrize("flow", [f for f in FLOWS if f.emails], ids=_flow_id)
    def test_rl1_a_fault_after_the_commit_never_fails_the_call_nor_loses_the_email(
        self, reliability: Setting, flow: Flow, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Delivering, then recording the delivery (its unit of work, the locked read of
        the email, its save), each break in turn: the call has committed and returns; the
        email stays in the outbox and a retry sends it."""
        caplog.set_level("CRITICAL", logger="aftersales")
        assert check_after_commit(reliability, flow).faults == 4


class IdempotencyContract(_Base):
    """RL-2 (and RL-6 on the way) for every mutating call."""

    @pytest.mark.parametrize("flow", FLOWS, ids=_flow_id)
    def test_rl2_rl6_a_replay_returns_the_first_result_and_creates_nothing(
        self, reliability: Setting, flow: Flow
    ) -> None:
        check_replay(reliability, flow)

    @pytest.mark.parametrize("flow", FLOWS, ids=_flow_id)
    def test_rl2_the_same_key_with_other_arguments_is_a_conflict(
        self, reliability: Setting, flow: Flow
    ) -> None:
        refusal = check_conflict(reliability, flow)
        assert "was used with different arguments" in str(refusal)


class ConcurrencyContract(_Base):
    """RL-3 and RL-5: caps under concurrent callers, bounded retries."""

    @pytest.fixture
    def race_runner(self, reliability: Setting) -> Runner | None:
        """How the workers of a race run: `None` for threads of the application under
        test; a backend shared by several processes returns
        `processes()`."""
        return None

    @pytest.mark.parametrize("race", RACES, ids=lambda race: race.name)
    def test_rl3_caps_hold_under_concurrent_callers(
        self, reliability: Setting, race_runner: Runner | None, race: Race
    ) -> None:
        report = run_race(reliability, race, race_runner)
        assert report.succeeded + report.refused == race.workers

    def test_rl5_a_conflict_that_never_clears_fails_after_bounded_retries(
        self, reliability: Setting
    ) -> None:
        assert check_bounded_retries(reliability) == reliability.app.runtime.config.retries

    def test_rl5_transient_conflicts_are_retried_and_each_call_runs_once(
        self, reliability: Setting
    ) -> None:
        assert len(check_transient_conflicts(reliability)) == 8


def _call_id(call: PublicCall) -> str:
    return call.name


class HostileInputContract(_Base):
    """RL-4 and G-7: hostile values for every parameter of every public call."""

    def test_rl4_the_table_covers_every_public_call_and_parameter(
        self, aftersales_app: AfterSales
    ) -> None:
        signatures = public_calls(aftersales_app)
        assert sorted(call.name for call in CALLS) == sorted(signatures)
        for call in CALLS:
            attacked = {
                case.param
                for case in cases(call, takes_key="idempotency_key" in signatures[call.name])
            }
            assert attacked == set(signatures[call.name]), call.name

    @pytest.fixture
    def hostile_targets(self, reliability: Setting) -> Targets:
        """The records every call works on (a backend whose tests start from a copy of a
        template database may override this to take them from the template)."""
        return prepare_targets(reliability)

    @pytest.mark.parametrize("call", CALLS, ids=_call_id)
    def test_rl4_the_valid_arguments_of_the_table_go_through(
        self, reliability: Setting, hostile_targets: Targets, call: PublicCall
    ) -> None:
        """So that every refusal below is the hostile value's doing."""
        invoke(reliability, hostile_targets, call)

    @pytest.mark.parametrize("call", CALLS, ids=_call_id)
    def test_rl4_g7_hostile_input_is_refused_clearly_and_changes_nothing(
        self, reliability: Setting, hostile_targets: Targets, call: PublicCall
    ) -> None:
        targets = hostile_targets
        takes_key = "idempotency_key" in public_calls(reliability.app)[call.name]
        problems = check_cases(reliability, targets, cases(call, takes_key=takes_key))
        assert not problems, f"{call.name}:\n" + "\n".join(problems)


class ModelContract(_Base):
    """Random sequences of calls against simple models of the rules.

    `model_runs` (examples, steps) may be lowered by a backend whose calls are slow.
    """

    model_runs: ClassVar[dict[str, tuple[int, int]]] = MODEL_RUNS

    def test_cp4_cp9_cp10_coupons_follow_the_model(self, reliability: Setting) -> None:
        examples, steps = self.model_runs["coupons"]
        run_model(CouponModel, reliability, max_examples=examples, steps=steps)

    def test_rp7_rp8_rp9_rp10_repairs_follow_the_model(self, reliability: Setting) -> None:
        examples, steps = self.model_runs["repairs"]
        run_model(RepairModel, reliability, max_examples=examples, steps=steps)


class ReliabilityContract(
    FaultContract, IdempotencyContract, ConcurrencyContract, HostileInputContract, ModelContract
):
    """The whole reliability suite."""
