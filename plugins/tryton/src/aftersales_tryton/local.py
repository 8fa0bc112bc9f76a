"""A throw-away Tryton database in a folder: SQLite, the modules activated, a company.

`local_database(folder)` writes a trytond configuration, activates the Tryton modules the
backend stands for (``trytond-admin -u ... --activate-dependencies``, in a child process)
and opens the database in this process with a company and its accounting
(`aftersales_tryton.world`). It needs trytond and the modules installed here (the
plugin's ``test`` extra). For the demo and the benchmark: nothing is kept but the folder.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs

from aftersales.errors import ConfigurationError
from aftersales_tryton.backend import TRYTON_MODULES
from aftersales_tryton.connection import Config, in_process
from aftersales_tryton.world import Accounting, open_fiscal_year, setup_accounting, setup_company

__all__ = ["COMPANY", "LocalTryton", "local_database", "modules_to_activate", "setup_world"]

#: The company a local database is made for.
COMPANY = "Helpdesk Supplies S.L."
DATABASE = "aftersales_demo"
ADMIN_TIMEOUT = 900.0


@attrs.frozen
class LocalTryton:
    """A Tryton database opened in this process: its configuration and its accounting."""

    config: Config
    accounting: Accounting
    database: str
    config_file: Path


def modules_to_activate() -> tuple[str, ...]:
    """Every Tryton module the backend's after-sales modules stand for."""
    return tuple(sorted({m for tryton in TRYTON_MODULES.values() for m in tryton}))


def _trytond_admin() -> str:
    beside = Path(sys.executable).parent / "trytond-admin"
    found = str(beside) if beside.is_file() else shutil.which("trytond-admin")
    if found is None:
        raise ConfigurationError(
            "a local Tryton database needs trytond and its modules here: "
            "pip install -e 'plugins/tryton[test]' (or the dev extra)"
        )
    return found


def local_database(folder: Path, *, today: dt.date | None = None) -> LocalTryton:
    """A new SQLite Tryton database in `folder` with the modules, a company and its
    accounting (fiscal years `today`'s and the next), open in this process."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "trytond.conf"
    config_file.write_text(
        f"[database]\nuri = sqlite://\npath = {folder}\n\n[session]\nsuper_pwd =\n",
        encoding="utf-8",
    )
    (folder / f"{DATABASE}.sqlite").touch()
    password = folder / "admin-password"
    password.write_text("admin\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYTOND_", "TRYTON"))}
    env["TRYTONPASSFILE"] = str(password)
    args = [_trytond_admin(), "-c", str(config_file), "-d", DATABASE, "-u", "ir", "res"]
    args += [*modules_to_activate(), "--activate-dependencies", "--email", "admin@example.com"]
    try:
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=ADMIN_TIMEOUT, check=False
        )
    finally:
        password.unlink(missing_ok=True)
    if done.returncode != 0:
        raise ConfigurationError(
            f"trytond-admin could not make the database ({done.returncode}): "
            f"{(done.stderr or done.stdout)[-2000:]}"
        )
    config = in_process(DATABASE, config_file)
    accounting = setup_world(config, today=today or dt.date.today())
    return LocalTryton(config, accounting, DATABASE, config_file)


def setup_world(config: Config, *, today: dt.date) -> Accounting:
    """The company `COMPANY` in euros with its accounting (fiscal years `today`'s and the
    next), made the user's: what a Tryton database with no company needs for the demo."""
    company = setup_company(config, COMPANY, currency="EUR")
    accounting = setup_accounting(config, company, year=today.year)
    open_fiscal_year(config, company, today.year + 1)
    return accounting
