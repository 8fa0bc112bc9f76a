"""The conformance kit cannot be fooled.

One inner pytest run (``pytester``) subclasses the kit's contracts for deliberately broken
backends (``tests/kit_variants.py``) and for the honest ones; each broken variant must fail
exactly the test meant to catch it, and the honest memory and SQLite backends pass every
one. The in-process `PersistenceFlow` (what the kit had before) still passes on the
process-wide-dict backend: only the new process tells.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SUITE = """
import functools

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.testing.conformance import (
    IsolationContract,
    ModulesContract,
    MultiProcessContract,
    PersistenceContract,
    PersistenceFlow,
    StoreContracts,
    TransactionContract,
)
from tests import kit_variants as v


def sqlite(cls, tmp_path):
    backend = cls(str(tmp_path / "kit.db"))
    yield backend
    backend.close()


class SqlFixtures:
    @pytest.fixture
    def aftersales_factory(self, aftersales_backend):
        return functools.partial(type(aftersales_backend), aftersales_backend.db.url)


class TestHonestMemory(StoreContracts):
    @pytest.fixture
    def aftersales_backend(self):
        return MemoryBackend()


class TestHonestSqlite(SqlFixtures, StoreContracts):
    @pytest.fixture
    def aftersales_backend(self, tmp_path):
        yield from sqlite(SqlBackend, tmp_path)


class TestProcessDict(PersistenceContract, PersistenceFlow):
    @pytest.fixture
    def aftersales_backend(self, request):
        return v.ProcessDictBackend(request.node.name)

    @pytest.fixture
    def aftersales_factory(self, request):
        return functools.partial(v.ProcessDictBackend, request.node.name)


class TestSubscriptionNotKept(SqlFixtures, PersistenceContract):
    @pytest.fixture
    def aftersales_backend(self, tmp_path):
        yield from sqlite(v.SubscriptionNotKept, tmp_path)


class TestSettingsNotKept(SqlFixtures, PersistenceContract):
    @pytest.fixture
    def aftersales_backend(self, tmp_path):
        yield from sqlite(v.SettingsNotKept, tmp_path)


class TestTrailOutsideTheUnit(IsolationContract, TransactionContract):
    @pytest.fixture
    def aftersales_backend(self):
        return v.TrailOutsideTheUnit()


class TestTornReads(IsolationContract):
    @pytest.fixture
    def aftersales_backend(self):
        return v.TornReads()


class TestFakeMultiProcess(MultiProcessContract):
    @pytest.fixture
    def aftersales_backend(self):
        return v.FakeMultiProcess()

    @pytest.fixture
    def aftersales_factory(self):
        return v.FakeMultiProcess


class TestMultiProcessNotExercised(SqlFixtures, ModulesContract):
    @pytest.fixture
    def aftersales_backend(self, tmp_path):
        yield from sqlite(SqlBackend, tmp_path)


class TestNoBackendFixture(ModulesContract):
    pass
"""

#: What each broken variant must fail (class -> {test: outcome}); every other test of the
#: inner run passes or is skipped for an undeclared capability.
CAUGHT = {
    # persistence through a process-wide dict: the in-process restart passes, a new
    # process reads nothing
    "TestProcessDict::test_what_was_written_reads_back_in_a_new_process": "failed",
    "TestProcessDict::test_after_a_restart_the_ticket_view_and_documents_are_identical": ("passed"),
    "TestSubscriptionNotKept::test_what_was_written_reads_back_in_a_new_process": "failed",
    "TestSettingsNotKept::test_what_was_written_reads_back_in_a_new_process": "failed",
    # a write outside the unit: the ports read it after a rollback; the snapshot-based
    # rollback check of TransactionContract is fooled
    "TestTrailOutsideTheUnit::test_rolled_back_writes_are_absent_from_the_ports_reads": "failed",
    "TestTrailOutsideTheUnit::test_committed_writes_are_read_back_and_change_the_snapshot": (
        "failed"
    ),
    "TestTrailOutsideTheUnit::test_a_rolled_back_unit_leaves_the_store_unchanged": "passed",
    "TestTornReads::test_a_read_only_unit_never_sees_half_of_another_thread": "failed",
    "TestFakeMultiProcess::test_two_processes_see_each_others_commits": "failed",
}

#: A word of each failure's message.
EXPLAINED = {
    "TestProcessDict::test_what_was_written_reads_back_in_a_new_process": "a new process",
    "TestSubscriptionNotKept::test_what_was_written_reads_back_in_a_new_process": (
        "subscription status: wrote"
    ),
    "TestSettingsNotKept::test_what_was_written_reads_back_in_a_new_process": (
        "team settings: wrote"
    ),
    "TestTrailOutsideTheUnit::test_rolled_back_writes_are_absent_from_the_ports_reads": (
        "rolled-back unit of work left writes that the ports read back (a write made "
        "outside the unit's transaction?): trail"
    ),
    "TestTrailOutsideTheUnit::test_committed_writes_are_read_back_and_change_the_snapshot": (
        "missing from backend.snapshot(): trail"
    ),
    "TestTornReads::test_a_read_only_unit_never_sees_half_of_another_thread": (
        "saw half of a unit that committed on another thread"
    ),
    "TestFakeMultiProcess::test_two_processes_see_each_others_commits": (
        "another process read the team settings frozenset()"
    ),
}

#: Classes the kit refuses at setup, with a word of the message.
REFUSED = {
    "TestMultiProcessNotExercised": "declares ['persistent', 'multi_process'] but no test",
    "TestNoBackendFixture": "Override the aftersales_backend fixture",
}


@pytest.fixture(scope="module")
def outcomes(pytester_module: tuple[dict[str, str], dict[str, str]]) -> dict[str, str]:
    return pytester_module[0]


@pytest.fixture(scope="module")
def pytester_module(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, str], dict[str, str]]:
    """Run the inner suite once: each test's outcome, and the message of each error."""
    directory = tmp_path_factory.mktemp("kit")
    (directory / "test_inner_kit.py").write_text(_SUITE)
    reports: list[pytest.TestReport] = []

    class Collect:
        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            reports.append(report)

    cwd = os.getcwd()
    os.chdir(directory)
    try:
        pytest.main(["-q", "-p", "no:cacheprovider", str(directory)], plugins=[Collect()])
    finally:
        os.chdir(cwd)
    outcome: dict[str, str] = {}
    messages: dict[str, str] = {}
    for report in reports:
        name = report.nodeid.split("::", 1)[1]
        if report.when == "call" or report.outcome != "passed":
            if report.when != "call" and report.outcome == "failed":
                outcome[name] = "error"
                messages[name] = report.longreprtext
            elif name not in outcome or outcome[name] == "passed":
                outcome[name] = report.outcome
                if report.outcome == "failed":
                    messages[name] = report.longreprtext
    return outcome, messages


def test_each_broken_variant_is_caught_by_its_test(
    pytester_module: tuple[dict[str, str], dict[str, str]],
) -> None:
    outcomes, messages = pytester_module
    wrong = {name: outcomes.get(name) for name, want in CAUGHT.items() if outcomes[name] != want}
    assert not wrong
    # each failure says what is wrong, not only that something is
    for name, words in EXPLAINED.items():
        assert words in messages[name], (name, messages[name][-2000:])


def test_the_honest_backends_pass_every_store_contract(outcomes: dict[str, str]) -> None:
    honest = {n: o for n, o in outcomes.items() if n.startswith("TestHonest")}
    assert len(honest) == 12
    assert set(honest.values()) <= {"passed", "skipped"}, honest
    sqlite = {o for n, o in honest.items() if n.startswith("TestHonestSqlite::")}
    assert sqlite == {"passed"}  # SQLite declares every capability: nothing is skipped


def test_nothing_else_fails(outcomes: dict[str, str]) -> None:
    unexpected = {
        n: o
        for n, o in outcomes.items()
        if o in ("failed", "error") and n not in CAUGHT and n.split("::")[0] not in REFUSED
    }
    assert not unexpected


def test_a_suite_without_a_backend_fixture_or_an_exercised_capability_is_refused(
    pytester_module: tuple[dict[str, str], dict[str, str]],
) -> None:
    outcome, messages = pytester_module
    for cls, words in REFUSED.items():
        tests = {n: o for n, o in outcome.items() if n.startswith(cls + "::")}
        assert tests and set(tests.values()) == {"error"}, (cls, tests)
        assert all(words in messages[n] for n in tests), (cls, words, messages)


_CONFTEST = """
import pytest

from tests import kit_variants as v


@pytest.fixture
def aftersales_backend():
    return v.FakeMultiProcess()
"""

_PARTIAL = """
from aftersales.testing.conformance import ModulesContract


class TestModulesOnly(ModulesContract):
    pass
"""


def _inner_run(directory: Path, *args: str) -> pytest.ExitCode | int:
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        return pytest.main(["-q", "-p", "no:cacheprovider", *args, str(directory)])
    finally:
        os.chdir(cwd)


def test_a_conftest_override_is_the_backend_and_the_escape_is_explicit(
    tmp_path: Path,
) -> None:
    """The override may live in a conftest.py; an unexercised capability is refused
    unless the run says ``--aftersales-unexercised``."""
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "test_partial.py").write_text(_PARTIAL)
    assert _inner_run(tmp_path) == pytest.ExitCode.TESTS_FAILED
    assert _inner_run(tmp_path, "--aftersales-unexercised") == pytest.ExitCode.OK
