"""A throw-away PostgreSQL server for tests: `initdb` into a temporary directory, start it
on a free localhost port, hand out fresh databases, stop it at the end.

The pytest plugin exposes it as the session fixture `aftersales_postgres` and the
function fixture `aftersales_postgres_url` (a new, empty database per test). Plugin
authors reuse them for their own PostgreSQL-backed backends.

PostgreSQL refuses to run as root: when the tests run as root (containers, CI), the server
runs as the `postgres` user when it exists, else as a system user `aftersales-pg`
created for the purpose, through `runuser` (or `su`).

When no server binaries are found the fixtures skip, unless `AFTERSALES_REQUIRE_POSTGRES=1`
is set (CI sets it), in which case they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "REQUIRE_ENV",
    "PostgresNotAvailable",
    "PostgresServer",
    "find_bindir",
    "launch_postgres",
    "postgres_required",
    "start_postgres",
]

#: Set to `1` to make a missing PostgreSQL a failure instead of a skip.
REQUIRE_ENV = "AFTERSALES_REQUIRE_POSTGRES"

_SERVICE_USER = "aftersales-pg"
_SUPERUSER = "aftersales"
_TOOLS = ("initdb", "pg_ctl", "postgres")


class PostgresNotAvailable(RuntimeError):
    """No PostgreSQL server binaries were found, or the server could not start."""


def postgres_required() -> bool:
    """True when a missing PostgreSQL must fail the tests (`AFTERSALES_REQUIRE_POSTGRES=1`)."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def _has_tools(bindir: Path) -> bool:
    return all((bindir / tool).exists() for tool in _TOOLS)


def find_bindir() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres`, or `None`.

    Looks on `PATH` first (following symlinks), then under `/usr/lib/postgresql/*/bin`
    (the newest version first).
    """
    found = shutil.which("pg_ctl")
    if found:
        for candidate in (Path(found).parent, Path(found).resolve().parent):
            if _has_tools(candidate):
                return candidate
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
        reverse=True,
    )
    for candidate in map(Path, versions):
        if _has_tools(candidate):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _service_user() -> str | None:
    """The unprivileged user to run the server as, or `None` when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _SERVICE_USER):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVICE_USER],
        check=True,
        capture_output=True,
    )
    return _SERVICE_USER


class PostgresServer:
    """A running throw-away server. Use `start_postgres()`."""

    def __init__(self, bindir: Path, base: Path, user: str | None) -> None:
        self.bindir = bindir
        self.base = base
        self.user = user
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.log = base / "server.log"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            if shutil.which("runuser"):
                command = ["runuser", "-u", self.user, "--", *command]
            else:
                command = ["su", self.user, "-s", "/bin/sh", "-c", shlex.join(command)]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.base
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresNotAvailable(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{log}"
            )
        return result

    def start(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.base, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.sockets}",
                f"-c listen_addresses={self.host}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]
        )
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for `database` on this server."""
        return f"postgresql+psycopg://{_SUPERUSER}@{self.host}:{self.port}/{database}"

    def sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction (e.g. `CREATE DATABASE`)."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=_SUPERUSER, dbname=database, autocommit=True
        ) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a new database (a copy of `template` when given) and return its URL."""
        name = name or f"test_{next(self._names)}"
        copy = f" TEMPLATE {template}" if template else ""
        self.sql(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)


def launch_postgres(bindir: Path | None = None) -> PostgresServer:
    """Start a throw-away server; call its `stop()` when done.

    Raises `PostgresNotAvailable` when no binaries are found or it cannot start.
    """
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresNotAvailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH "
            "or under /usr/lib/postgresql/*/bin; install the 'postgresql' package"
        )
    base = Path(tempfile.mkdtemp(prefix="aftersales-pg-"))
    try:
        server = PostgresServer(bindir, base, _service_user())
        server.start()
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


@contextmanager
def start_postgres(bindir: Path | None = None) -> Iterator[PostgresServer]:
    """A throw-away server for the `with` block (stopped and removed afterwards)."""
    server = launch_postgres(bindir)
    try:
        yield server
    finally:
        server.stop()
