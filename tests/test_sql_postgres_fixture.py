"""The PostgreSQL test server fixtures: found, started as an unprivileged user, skipped or
failed when missing."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from aftersales.backends.sql import SqlBackend
from tests import postgres

pytest_plugins = ["pytester"]

_USES_SERVER = """
def test_needs_postgres(aftersales_postgres):
    pass
"""


def test_without_binaries_the_tests_are_skipped_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.postgres.find_bindir", lambda: None)
    monkeypatch.delenv(postgres.REQUIRE_ENV, raising=False)
    pytester.makepyfile(_USES_SERVER)
    result = pytester.runpytest_inprocess("-p", "tests.postgres", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*binaries (initdb, pg_ctl) not found*postgresql*"])


def test_without_binaries_ci_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.postgres.find_bindir", lambda: None)
    monkeypatch.setenv(postgres.REQUIRE_ENV, "1")
    pytester.makepyfile(_USES_SERVER)
    result = pytester.runpytest_inprocess("-p", "tests.postgres")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*AFTERSALES_REQUIRE_POSTGRES=1 makes this a failure*"])


def test_binaries_are_found_off_the_path_too(monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = postgres.find_bindir()
    if on_path is None:
        pytest.skip("no PostgreSQL server installed here")
    monkeypatch.setenv("PATH", "/nonexistent")
    found = postgres.find_bindir()
    versioned = list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    assert (found is not None) == bool(versioned)
    if found is not None:
        assert (found / "initdb").exists()
        assert found.parent.parent == Path("/usr/lib/postgresql")


def test_as_root_the_server_runs_as_an_unprivileged_user() -> None:
    user = postgres._service_user()
    if os.geteuid() != 0:
        assert user is None
        return
    assert user in ("postgres", "aftersales-pg")
    assert pwd.getpwnam(user).pw_uid != 0


@pytest.mark.postgres
def test_each_test_gets_a_new_empty_database(
    aftersales_postgres: postgres.PostgresServer, aftersales_postgres_url: str
) -> None:
    assert aftersales_postgres_url.startswith("postgresql+psycopg://aftersales@127.0.0.1:")
    backend = SqlBackend(aftersales_postgres_url)
    try:
        assert backend.dialect == "postgresql"
        assert backend.snapshot() == {
            "modules": {m: {"name": m} for m in ("base", "helpdesk", "mail")}
        }
    finally:
        backend.close()
    assert aftersales_postgres.create_database() != aftersales_postgres_url
