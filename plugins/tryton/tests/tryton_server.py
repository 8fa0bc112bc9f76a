"""A real Tryton server for the plugin's tests: a template database, copies, a trytond.

* :func:`template` builds, once, a SQLite database with the modules activated
  (``trytond-admin -u ... --activate-dependencies``) and a company with its accounting (the
  gateway's own world builder, run in a child process), and keeps it in a cache directory
  keyed by the versions of trytond and of every module, the module list, the fiscal years and
  the source of the code that builds it; a later session reuses it.
* :func:`copy_database` gives a test module its own copy (a file copy).
* :class:`TrytonServer` runs ``trytond`` on 127.0.0.1 on a free port for one copy
  (``TRYTOND_DATABASE_NAMES``), waits until it answers an RPC, and stops it.

Run as a script (``python tryton_server.py setup-world CONFIG DATABASE YEARS OUT``) it is the
child process that builds the template's world.
"""

from __future__ import annotations

import ast
import ctypes
import datetime as dt
import hashlib
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import distributions
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from aftersales.testing.plugin import START
from aftersales_tryton.world import Accounting

#: The Tryton modules the template has activated (their dependencies come with them).
#: ``project`` is left out on purpose: the tests activate it through ``ir.module``.
MODULES = (
    "account_invoice",
    "account_invoice_stock",
    "stock",
    "sale",
    "sale_complaint",
    "sale_promotion_coupon",
    "sale_gift_card",
)
ADMIN = "admin"
PASSWORD = "admin"
COMPANY = "Helpdesk Supplies S.L."
TEMPLATE_NAME = "template"
HERE = Path(__file__).resolve()
BIN = Path(sys.executable).parent
#: How long trytond-admin or a server start may take before the tests give up.
ADMIN_TIMEOUT = 900.0
START_TIMEOUT = 120.0
POLL_INTERVAL = 0.05


@attrs.frozen
class Database:
    """A SQLite Tryton database: its name, its directory and a trytond config naming it."""

    name: str
    directory: Path
    config_file: Path
    accounting: Accounting

    @property
    def file(self) -> Path:
        return self.directory / f"{self.name}.sqlite"


def _write_config(directory: Path, *, port: int | None = None) -> Path:
    lines = ["[database]", "uri = sqlite://", f"path = {directory}", "", "[session]"]
    lines += ["super_pwd =", "", "[web]", f"listen = 127.0.0.1:{port or 0}", ""]
    path = directory / f"trytond-{port or 'admin'}.conf"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    """This process' environment without any TRYTOND_* / TRYTON* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYTOND_", "TRYTON"))}
    env.update(extra)
    return env


#: Bump when what the template holds changes in a way the digest below does not see.
TEMPLATE_FORMAT = 1


def _source_digest() -> str:
    """The code that fills the template (the world builder and :func:`_setup_world`), as
    syntax trees: reformatting it does not throw the cached template away, changing it does."""
    import aftersales_tryton.world as world

    trees = [
        ast.parse(Path(world.__file__).read_text(encoding="utf-8")),
        ast.parse(textwrap.dedent(inspect.getsource(_setup_world))),
    ]
    digest = hashlib.sha256("".join(ast.dump(tree) for tree in trees).encode())
    return digest.hexdigest()[:12]


def template_key(years: tuple[int, ...]) -> str:
    """The cache key: trytond's and every Tryton module's version, the modules, the fiscal
    years and the code that builds the template."""
    tryton = sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower().startswith("trytond")
    )
    raw = json.dumps([tryton, MODULES, years, TEMPLATE_FORMAT, _source_digest(), COMPANY])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cache_root() -> Path:
    """Where templates are kept between sessions (``AFTERSALES_TRYTON_CACHE`` overrides)."""
    given = os.environ.get("AFTERSALES_TRYTON_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aftersales-tryton"


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the test process dies (Linux), so a test
    run cut short leaves no trytond behind."""
    if sys.platform == "linux":
        pr_set_pdeathsig, sigterm = 1, 15
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, sigterm)


def _run(args: list[str], *, env: Mapping[str, str], timeout: float) -> None:
    done = subprocess.run(
        args,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_die_with_parent,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}"
            f"\n{done.stderr[-4000:]}"
        )


def _accounting(path: Path) -> Accounting:
    return Accounting(**json.loads(path.read_text(encoding="utf-8")))


#: A build directory untouched for this long was left by a killed session.
ABANDONED_AFTER = 3 * 3600.0


def _remove_abandoned_builds(root: Path) -> None:
    now = time.time()
    for build in root.glob("build-*"):
        try:
            if now - build.stat().st_mtime > ABANDONED_AFTER:
                shutil.rmtree(build, ignore_errors=True)
        except OSError:
            continue


def fiscal_years(today: dt.date | None = None) -> tuple[int, ...]:
    """The fiscal years the template opens: the test clock's year and today's (Tryton dates
    coupons and warnings by its own today), each with the year after it."""
    today = today or dt.date.today()
    clock = dt.datetime.fromisoformat(START).year
    return tuple(sorted({clock, clock + 1, today.year, today.year + 1}))


def template(timings: dict[str, float], *, years: tuple[int, ...] | None = None) -> Database:
    """The template database, built if the cache has none for this key (timed in
    ``timings``: ``template_modules`` and ``template_world``, or ``template_cached``)."""
    years = years or fiscal_years()
    root = cache_root()
    final = root / template_key(years)
    if (final / "accounting.json").is_file():
        started = time.perf_counter()
        database = Database(
            TEMPLATE_NAME, final, _write_config(final), _accounting(final / "accounting.json")
        )
        timings["template_cached"] = time.perf_counter() - started
        return database
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(root)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
    try:
        config = _write_config(work)
        (work / f"{TEMPLATE_NAME}.sqlite").touch()
        password = work / "password"
        password.write_text(PASSWORD + "\n", encoding="utf-8")
        started = time.perf_counter()
        _run(
            [
                str(BIN / "trytond-admin"),
                "-c", str(config),
                "-d", TEMPLATE_NAME,
                "-u", "ir", "res", *MODULES,
                "--activate-dependencies",
                "--email", "admin@example.com",
            ],
            env=_clean_env(TRYTONPASSFILE=str(password)),
            timeout=ADMIN_TIMEOUT,
        )  # fmt: skip
        timings["template_modules"] = time.perf_counter() - started
        started = time.perf_counter()
        _run(
            [sys.executable, str(HERE), "setup-world", str(config), TEMPLATE_NAME,
             ",".join(map(str, years)),
             str(work / "accounting.json")],
            env=_clean_env(),
            timeout=ADMIN_TIMEOUT,
        )  # fmt: skip
        timings["template_world"] = time.perf_counter() - started
        password.unlink()
        try:
            work.rename(final)  # atomic: a concurrent session's template may have won
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Database(
        TEMPLATE_NAME, final, _write_config(final), _accounting(final / "accounting.json")
    )


def copy_database(source: Database, directory: Path, name: str) -> Database:
    """A copy of ``source`` called ``name`` in ``directory`` (its own trytond config)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.file, directory / f"{name}.sqlite")
    return Database(name, directory, _write_config(directory), source.accounting)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TrytonServer:
    """``trytond`` serving one database on 127.0.0.1; a context manager."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = database.directory / f"trytond-{self.port}.log"
        self.started_in = 0.0

    @property
    def url(self) -> str:
        """The database's XML-RPC address (log in as ``ADMIN`` / ``PASSWORD``)."""
        from aftersales_tryton.connection import rpc_url

        return rpc_url("127.0.0.1", self.port, self.database.name)

    def start(self) -> None:
        config = _write_config(self.database.directory, port=self.port)
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "trytond"), "-c", str(config), "-d", self.database.name],
                env=_clean_env(TRYTOND_DATABASE_NAMES=self.database.name),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        self._wait()
        self.started_in = time.perf_counter() - started

    def _wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        proxy = xmlrpc.client.ServerProxy(self.url, allow_none=True)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"trytond exited ({self.process.returncode}): {self._tail()}")
            try:
                proxy.common.db.login(ADMIN, {"password": PASSWORD})  # the database answers
                return
            except (ConnectionError, OSError, xmlrpc.client.ProtocolError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"trytond did not answer in {START_TIMEOUT}s: {self._tail()}"
                    ) from None
                time.sleep(POLL_INTERVAL)

    def _tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def __enter__(self) -> TrytonServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - started


def _setup_world(config_file: str, database: str, years: str, out: str) -> None:
    from aftersales_tryton.connection import in_process
    from aftersales_tryton.world import open_fiscal_year, setup_accounting, setup_company

    config = in_process(database, Path(config_file))
    company = setup_company(config, COMPANY, currency="EUR")
    first, *later = (int(year) for year in years.split(","))
    accounting = setup_accounting(config, company, year=first)
    for year in later:
        open_fiscal_year(config, company, year)
    Path(out).write_text(json.dumps(attrs.asdict(accounting)), encoding="utf-8")


def main(argv: list[str]) -> Any:
    if len(argv) == 5 and argv[0] == "setup-world":
        return _setup_world(*argv[1:])
    raise SystemExit("usage: tryton_server.py setup-world CONFIG DATABASE YEARS OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
