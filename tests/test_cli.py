"""The ``aftersales`` command: demo, ticket view, plugins, migrations, exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from aftersales.backends.sql import SCHEMA_VERSION, SqlBackend, upgrade
from aftersales.backends.sql.engine import Database
from aftersales.cli import DEMO_DATABASE, main
from aftersales.models import Group


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
    SqlBackend(tmp_path / "x.db").close()
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
    assert "error: ticket nope does not exist" in result.stderr
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


def test_plugins_shows_the_owner_of_each_port() -> None:
    _code, text = run("plugins", "--json")
    ports = {item["name"]: item["ports"] for item in json.loads(text)}["memory"]
    assert ports["helpdesk"] == {"owner": "host", "served": True, "lacking": []}
    assert ports["store"]["owner"] == "library"
    _code, table = run("plugins")
    assert re.search(r"^helpdesk +host helpdesk +memory$", table, re.M)
    assert re.search(r"^store +after-sales store +memory$", table, re.M)
    assert re.search(r"^transport +mail transport +memory$", table, re.M)


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
    assert "error: ticket #999 does not exist" in result.stderr


# -- reading never writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("ticket", "show", "#1", "--db", "sub/missing.db"),
        ("ticket", "show", "#1", "--db", "sub/missing.db", "--json"),
        ("ticket", "show", "#1"),  # the default ./aftersales.db
        ("db", "version", "sub/missing.db"),
        ("db", "version", "--db", "sub/missing.db", "--json"),
        ("db", "version"),
    ],
    ids=" ".join,
)
def test_a_read_on_a_missing_database_says_so_and_creates_nothing(
    argv: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    code, text = run(*argv)
    assert code == 1
    assert text == ""
    where = tmp_path / ("sub/missing.db" if "sub/missing.db" in argv else "aftersales.db")
    assert capsys.readouterr().err == f"error: no database at {where}\n"
    assert list(tmp_path.iterdir()) == []  # no file, no folder


@pytest.mark.parametrize(
    ("version", "refusal"),
    [(0, "no aftersales database at"), (SCHEMA_VERSION - 1, "run `aftersales db upgrade`")],
    ids=["an empty file", "an older schema"],
)
def test_a_read_on_a_database_behind_the_code_leaves_it_as_it_was(
    version: int, refusal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    if version == 0:
        path.touch()
    else:
        db = Database(path)
        upgrade(db, target=version)
        db.dispose()
    before = path.read_bytes()
    assert run("ticket", "show", "#1", "--db", str(path)) == (1, "")
    assert refusal in capsys.readouterr().err
    code, text = run("db", "version", str(path))
    assert code == 0
    assert f"schema version {version} (code needs {SCHEMA_VERSION})" in text
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["old.db"]


# -- usage errors --------------------------------------------------------------------------


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The message of a command line refused as a usage error (exit 2, nothing run)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv), out=io.StringIO())
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: aftersales ")
    assert "Traceback" not in err
    message = err.splitlines()[-1]
    assert message.startswith("aftersales ")
    return message.partition(" error: ")[2]


def test_groups_without_user_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "a.db")
    message = usage_error(capsys, "ticket", "show", "#1", "--groups", "billing", "--db", db)
    assert message == "argument --groups: needs --user (the system actor has no groups)"


def test_an_unknown_group_is_a_usage_error_listing_the_groups(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = usage_error(
        capsys, "ticket", "show", "#1", "--user", "u", "--groups", "billing,nonsense"
    )
    assert message.startswith("argument --groups: unknown group 'nonsense'; the groups are ")
    assert message.endswith(", ".join(g.value for g in Group))


def test_the_groups_of_user_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("demo")[0] == 0
    code, text = run(
        "ticket", "show", "#1", "--db", DEMO_DATABASE, "--user", "pablo",
        "--groups", " helpdesk_user, billing ", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(text)["ticket"]["ref"] == "1"


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        (
            "postgresql://u:secret@127.0.0.1:notaport/db",
            "argument --db: 'postgresql://u:***@127.0.0.1:notaport/db' has a port that is "
            "not a number from 1 to 65535",
        ),
        (
            "postgresql://u@127.0.0.1:70000/db",
            "argument --db: 'postgresql://u@127.0.0.1:70000/db' has a port that is not a "
            "number from 1 to 65535",
        ),
        ("::::", "argument --db: '::::' is neither a database URL"),
        ("postgresql:/db", "argument --db: 'postgresql:/db' is neither a database URL"),
        ("mysql://h/db", "argument --db: unsupported database 'mysql'"),
        ("sqlite://", "argument --db: an in-memory SQLite database is not shared"),
        (":memory:", "argument --db: an in-memory SQLite database does not outlive"),
        ("", "argument --db: an empty path"),
        (".", "argument --db: '.' is a folder, not a SQLite file"),
    ],
    ids=[
        "bad-port",
        "port-out-of-range",
        "colons",
        "url-with-one-slash",
        "mysql",
        "sqlite-memory-url",
        "memory",
        "empty",
        "folder",
    ],
)
def test_a_database_that_is_neither_a_path_nor_a_url_is_a_usage_error(
    database: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (
        ("ticket", "show", "#1", "--db", database),
        ("db", "upgrade", "--db", database),
        ("demo", "--db", database),
    ):
        assert usage_error(capsys, *argv).startswith(expected)
    assert "secret" not in expected
    assert list(tmp_path.iterdir()) == []  # no file named '::::'


def test_the_database_of_the_environment_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", "::::")
    message = usage_error(capsys, "db", "version")
    assert message.startswith("$AFTERSALES_DATABASE_URL: '::::' is neither a database URL")
    assert usage_error(capsys, "db", "upgrade", "x.db", "--db", "y.db") == (
        "give the database once: as URL or as --db, not both"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_colon_in_a_file_name_opens_through_a_sqlite_url(tmp_path: Path) -> None:
    code, text = run("db", "upgrade", f"sqlite:///{tmp_path}/a:b.db", "--json")
    assert code == 0
    assert json.loads(text)["version"] == SCHEMA_VERSION
    assert (tmp_path / "a:b.db").is_file()


def test_postgresql_without_psycopg_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    for argv in (
        ("ticket", "show", "#1", "--db", "postgresql://u@127.0.0.1/db"),
        ("db", "version", "postgres://u@127.0.0.1:5432/db"),
    ):
        message = usage_error(capsys, *argv)
        assert message.startswith("a PostgreSQL database needs psycopg 3 (")
        assert message.endswith("pip install 'aftersales[postgres]'")


def test_sql_without_sqlalchemy_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    message = usage_error(capsys, "ticket", "show", "#1", "--db", "a.db")
    assert message.endswith("pip install 'aftersales[sql]'")
    assert run("demo", "--memory")[0] == 0  # the reference backend needs no extra


# -- the demo ------------------------------------------------------------------------------


def section(text: str, title: str) -> list[str]:
    """The lines of one ``== title`` section of the command's output."""
    block = text.split(f"\n== {title}\n", 1)[1]
    return block.split("\n== ", 1)[0].strip().splitlines()


def test_the_demo_return_table_shows_the_delivery_after_the_return() -> None:
    code, text = run("demo", "--memory")
    assert code == 0
    lines = section(text, "Return")
    assert lines[0].endswith("is done: 1 Blender back in stock.")
    assert lines[1].split() == [
        "product", "delivered", "in", "this", "return", "returned", "reserved", "left",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert rows == {"Blender": ["2", "1", "1", "0", "1"], "Kettle": ["1", "0", "0", "0", "1"]}


def world_of(path: Path) -> dict[str, int]:
    """How many records of each kind the database at ``path`` holds."""
    backend = SqlBackend(path, migrate=False)
    try:
        return {table: len(rows) for table, rows in backend.snapshot().items()}
    finally:
        backend.close()


@pytest.mark.parametrize("argv", [(), ("--db", "sub/mine.db")], ids=["default", "--db"])
def test_the_demo_rebuilds_its_database_on_each_run(
    argv: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / (argv[1] if argv else DEMO_DATABASE)
    assert run("demo", *argv)[0] == 0
    first = world_of(path)
    assert first["tickets"] == 1 and first["repairs"] == 1
    code, text = run("demo", *argv)
    assert code == 0
    assert world_of(path) == first  # the same world again, not a second one beside it
    assert text.endswith(f"aftersales ticket show 1 --db {argv[1] if argv else DEMO_DATABASE}\n")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no leftovers


def test_the_demo_refuses_a_database_it_did_not_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "helpdesk.db"
    SqlBackend(mine).close()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n")
    for path in (mine, text_file):
        before = path.read_bytes()
        assert run("demo", "--db", str(path)) == (1, "")
        assert capsys.readouterr().err == (
            f"error: {path} is not a database built by `aftersales demo`, which rebuilds only "
            "its own: give another --db, or delete the file\n"
        )
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["helpdesk.db", "notes.txt"]
    empty = tmp_path / "empty.db"
    empty.touch()  # nothing to lose
    assert run("demo", "--db", str(empty))[0] == 0
    assert world_of(empty)["tickets"] == 1


class ReaderGone(io.StringIO):
    """An output whose reader goes away after ``lines`` writes, as ``| head`` does (or
    that raises ``stop`` then: Ctrl-C)."""

    def __init__(self, lines: int, stop: BaseException | None = None) -> None:
        super().__init__()
        self.lines = lines
        self.stop = stop or BrokenPipeError(32, "Broken pipe")

    def write(self, text: str) -> int:
        if self.lines == 0:
            raise self.stop
        self.lines -= 1
        return super().write(text)


def demo_writes() -> int:
    """How many writes the demo makes to its output (the same on every backend)."""
    out = ReaderGone(10**6)
    assert main(["demo", "--memory"], out=out) == 0
    return 10**6 - out.lines


@pytest.mark.parametrize("cut", [0.0, 0.5, 1.0], ids=["first write", "middle", "last section"])
def test_a_demo_cut_short_leaves_the_database_as_it_was(
    cut: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SQL demo writes once more than the in-memory one (where its data stays), once its
    # database is in place: cut at 1.0, its last section fails, before the move.
    lines = round(cut * (demo_writes() - 1))
    monkeypatch.chdir(tmp_path)
    assert main(["demo"], out=ReaderGone(lines)) == 0  # the reader went away: no error
    assert list(tmp_path.iterdir()) == []  # no half-built database, no leftovers
    assert run("demo")[0] == 0
    built = (tmp_path / DEMO_DATABASE).read_bytes()
    assert main(["demo"], out=ReaderGone(lines)) == 0
    assert (tmp_path / DEMO_DATABASE).read_bytes() == built
    assert main(["demo"], out=ReaderGone(lines, KeyboardInterrupt())) == 130
    assert (tmp_path / DEMO_DATABASE).read_bytes() == built
    assert [p.name for p in tmp_path.iterdir()] == [DEMO_DATABASE]


def test_a_demo_piped_into_a_closed_reader_exits_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `aftersales demo | head -0`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "aftersales", "demo"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_the_demo_on_postgresql_rebuilds_its_own_database_in_one_transaction(
    aftersales_postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = aftersales_postgres_url

    def world() -> dict[str, int]:
        backend = SqlBackend(url, migrate=False)
        try:
            return {table: len(rows) for table, rows in backend.snapshot().items()}
        finally:
            backend.close()

    assert run("demo", "--db", url)[0] == 0
    first = world()
    assert first["tickets"] == 1
    assert run("demo", "--db", url)[0] == 0
    assert world() == first
    assert main(["demo", "--db", url], out=ReaderGone(60)) == 0
    assert world() == first  # rolled back: the previous world stays whole
    code, shown = run("ticket", "show", "#1", "--db", url, "--json")
    assert code == 0
    assert json.loads(shown)["counts"]["repairs"] == 1
    with_password = url.replace("aftersales@", "aftersales:s3cret@")  # trust auth: ignored
    code, text = run("demo", "--db", with_password)
    assert code == 0
    assert "s3cret" not in text
    masked = url.replace("aftersales@", "aftersales:***@")
    assert text.endswith(f"--db {shlex.quote(masked)}\n")


@pytest.mark.postgres
def test_the_demo_refuses_a_postgresql_database_it_did_not_build(
    aftersales_postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = aftersales_postgres_url
    assert run("ticket", "show", "#1", "--db", empty) == (1, "")
    assert "error: no aftersales database at" in capsys.readouterr().err
    assert run("db", "upgrade", empty)[0] == 0
    assert run("demo", "--db", empty) == (1, "")
    assert "is not a database built by `aftersales demo`" in capsys.readouterr().err
    assert run("db", "version", empty)[0] == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"aftersales {metadata.version('aftersales')}\n"


# -- the demo on Tryton (run end to end in plugins/tryton/tests/test_tryton_demo.py) ---------


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["--tryton", "http://127.0.0.1:8000/db/rpc/"], "needs --tryton-password"),
        (["--tryton-user", "admin"], "need --tryton URL"),
        (["--tryton-local", "--tryton-password", "x"], "need --tryton URL"),
        (["--tryton-local", "--memory"], "not allowed with argument"),
        (["--tryton", "http://h/db/rpc/", "--db", "x.db"], "not allowed with argument"),
    ],
)
def test_the_tryton_demo_options_are_checked_before_anything_runs(
    argv: list[str],
    refusal: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("AFTERSALES_TRYTON_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)
    assert refusal in usage_error(capsys, "demo", *argv)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["--tryton-local"], ["--tryton", "http://h/d/rpc/"]])
def test_the_tryton_demo_without_the_plugin_says_what_to_install(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, "aftersales_tryton", None)  # import fails
    monkeypatch.setenv("AFTERSALES_TRYTON_PASSWORD", "admin")
    monkeypatch.chdir(tmp_path)
    assert run("demo", *argv) == (1, "")
    err = capsys.readouterr().err
    assert err.startswith("error: the Tryton demo needs the aftersales-tryton plugin")
    assert "pip install -e plugins/tryton" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
