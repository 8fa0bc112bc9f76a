"""The ``aftersales`` command: demo, ticket view, plugins, migrations, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aftersales.cli import DEMO_DATABASE, main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_demo_on_the_reference_backend_runs_every_flow() -> None:
    code, text = run("demo", "--memory")
    assert code == 0
    for title in (
        "Plan: turning every after-sales service on",
        "Enabled",
        "Refunds: one credit note per method",
        "Coupon",
        "Return",
        "Repair RO/00001",
        "Field-service task",
        "Ticket #",
        "Linked documents",
        "Trail (newest first)",
    ):
        assert f"== {title}" in text
    assert "starts a trial that ends on" in text
    assert "partial" in text and "full_and_reinvoice" in text
    assert "Subject: Your coupon" in text
    assert "Internal" not in text and "Check the jar too." not in text  # internal notes stay in
    assert "Actions: Refund, Coupon, Return, Repair, Create task" in text
    assert "object at 0x" not in text and "Decimal(" not in text  # tables, not reprs


def test_demo_on_the_embedded_default_runs_twice_and_keeps_the_ticket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, text = run("demo")
        assert code == 0
        assert f"SQL database {DEMO_DATABASE}" in text
    command = text.strip().splitlines()[-1].split()
    assert command[:3] == ["aftersales", "ticket", "show"]
    code, shown = run(*command[1:], "--json")
    assert code == 0
    view = json.loads(shown)
    assert view["counts"]["credit_notes"] == 3
    assert view["counts"]["repairs"] == 1
    code, table = run(*command[1:])
    assert "== Linked documents" in table


def test_ticket_show_refuses_an_unknown_ticket_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aftersales",
            "ticket",
            "show",
            "nope",
            "--db",
            str(tmp_path / "x.db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "error: ticket 'nope' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["bogus"])
    assert info.value.code == 2


def test_plugins_lists_backends_hooks_and_gaps() -> None:
    code, text = run("plugins", "--json")
    assert code == 0
    report = {item["name"]: item for item in json.loads(text)}
    assert {"memory", "sql"} <= set(report)
    assert report["memory"]["missing"] == {}
    assert "aftersales_transaction_begin" in report["memory"]["hooks"]
    code, table = run("plugins")
    assert "== memory" in table and "ready" in table


def test_db_upgrade_and_version(tmp_path: Path) -> None:
    url = str(tmp_path / "a.db")
    code, text = run("db", "upgrade", "--db", url, "--json")
    assert code == 0
    first = json.loads(text)
    code, text = run("db", "version", url)
    assert code == 0
    assert f"schema version {first['version']} (current)" in text


def test_ticket_show_finds_a_ticket_by_its_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("demo")[0] == 0
    code, text = run("ticket", "show", "#1", "--db", DEMO_DATABASE, "--json")
    assert code == 0
    assert json.loads(text)["ticket"]["ref"] == "1"
    result = subprocess.run(
        [sys.executable, "-m", "aftersales", "ticket", "show", "#999", "--db", DEMO_DATABASE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "error: ticket '#999' does not exist" in result.stderr


def test_an_unknown_group_is_refused_listing_the_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ticket", "show", "#1", "--db", str(tmp_path / "x.db"), "--user", "eve"]
    assert main([*argv, "--groups", "helpdesk_user,root"]) == 1
    assert "groups='root': is not a group; the groups are: helpdesk_user" in capsys.readouterr().err
