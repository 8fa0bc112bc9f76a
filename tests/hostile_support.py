"""The hostile-input sweep without the values that have become valid.

An enum-typed argument takes the member or its exact value string (docs/api.md,
"Arguments"), so ``settings.configure(enable={"refunds"})`` turns refunds on. The sweep's
table (:mod:`aftersales.testing.reliability.hostile`, on its way out of the package) still
lists "a set of strings" among the hostile values of ``enable`` and ``disable``: the
contract below runs every other case. ``test_arguments.py`` checks that the table still lists them
(and fails once it drops them: remove this module then).
"""

from __future__ import annotations

import pytest

from aftersales.testing.reliability.contract import HostileInputContract
from aftersales.testing.reliability.hostile import (
    CALLS,
    Case,
    PublicCall,
    Targets,
    cases,
    check_cases,
    public_calls,
)
from aftersales.testing.reliability.setting import Setting

#: (parameter, label) of the sweep's values that the services accept now.
NOW_VALID = frozenset({("enable", "a set of strings"), ("disable", "a set of strings")})
NOW_VALID_IN = ("settings.plan", "settings.configure")


def still_hostile(case: Case) -> bool:
    return (case.param, case.hostile.label) not in NOW_VALID


class CurrentHostileInput(HostileInputContract):
    """:class:`HostileInputContract` without the values of :data:`NOW_VALID`."""

    @pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
    def test_rl4_g7_hostile_input_is_refused_clearly_and_changes_nothing(
        self, reliability: Setting, hostile_targets: Targets, call: PublicCall
    ) -> None:
        takes_key = "idempotency_key" in public_calls(reliability.app)[call.name]
        found = [case for case in cases(call, takes_key=takes_key) if still_hostile(case)]
        problems = check_cases(reliability, hostile_targets, found)
        assert not problems, f"{call.name}:\n" + "\n".join(problems)
