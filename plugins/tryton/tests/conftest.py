"""Fixtures that start Tryton for the plugin's tests (a real trytond and real databases).

* ``tryton_template`` (session): the template database, built once (cached across sessions,
  see :mod:`tryton_server`).
* ``tryton`` (module): an in-process proteus connection to the module's own copy of it,
  with a world builder — the fast path most tests use.
* ``tryton_rpc`` (module): a ``trytond`` server on 127.0.0.1 serving another copy, and a
  proteus connection to it over XML-RPC.

The durations (template, copy, server start, one RPC) are printed at the end of the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs
import pytest

from aftersales_tryton.connection import Config, close, in_process, over_rpc
from aftersales_tryton.world import Accounting, WorldBuilder
from tryton_server import (
    ADMIN,
    PASSWORD,
    Database,
    TrytonServer,
    copy_database,
    template,
    timed,
)

TIMINGS: dict[str, float] = {}

#: Warnings trytond 8.2 itself raises on import, which the suite's "error" filter would fail.
TRYTOND_OWN_WARNINGS = ("ignore:trytond.config.config is deprecated:DeprecationWarning",)


def pytest_configure(config: pytest.Config) -> None:
    for line in TRYTOND_OWN_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@attrs.frozen
class Tryton:
    """A connection to a Tryton database holding the template's company and accounting."""

    config: Config
    database: Database
    world: WorldBuilder

    @property
    def accounting(self) -> Accounting:
        return self.database.accounting


def _name(request: pytest.FixtureRequest, kind: str) -> str:
    return kind + "_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def tryton_template() -> Database:
    with timed(TIMINGS, "template"):
        return template(TIMINGS)


@pytest.fixture(scope="module")
def tryton_db(
    tryton_template: Database,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Database:
    directory = tmp_path_factory.mktemp("tryton")
    with timed(TIMINGS, "copy"):
        return copy_database(tryton_template, directory, _name(request, "inproc"))


@pytest.fixture(scope="module")
def tryton(tryton_db: Database) -> Tryton:
    with timed(TIMINGS, "in_process_connect"):
        config = in_process(tryton_db.name, tryton_db.config_file)
    return Tryton(config, tryton_db, WorldBuilder(config, tryton_db.accounting))


@pytest.fixture(scope="module")
def tryton_server(
    tryton_template: Database,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[TrytonServer]:
    directory = tmp_path_factory.mktemp("tryton-rpc")
    database = copy_database(tryton_template, directory, _name(request, "rpc"))
    with TrytonServer(database) as server:
        TIMINGS["server_start"] = server.started_in
        yield server


@pytest.fixture(scope="module")
def tryton_rpc(tryton_server: TrytonServer) -> Iterator[Tryton]:
    with timed(TIMINGS, "rpc_connect"):
        config = over_rpc(tryton_server.url, user=ADMIN, password=PASSWORD)
    database = tryton_server.database
    yield Tryton(config, database, WorldBuilder(config, database.accounting))
    close(config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        shown = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in sorted(TIMINGS.items()))
        terminalreporter.write_line(f"Tryton: {shown}")
