"""`aftersales demo` with Tryton as the ERP: a new local database, and an existing one over
XML-RPC (the template's company and accounting, found rather than made)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from proteus import Model

from aftersales.cli import main
from aftersales.errors import ConfigurationError
from aftersales_tryton.demo import existing_accounting
from conftest import Tryton
from tryton_server import PASSWORD, TrytonServer


def _demo(*argv: str) -> str:
    out = io.StringIO()
    assert main(["demo", *argv], out=out) == 0
    return out.getvalue()


def _shows_the_refund_flows_and_the_refusals(text: str) -> None:
    (ports,) = [line for line in text.splitlines() if line.startswith("Ports owned by Tryton: ")]
    assert {"accounting", "modules", "subscription"} <= set(ports[23:].rstrip(".").split(", "))
    for method in ("partial ", "full ", "full_and_reinvoice "):
        assert f"\n{method}" in text
    assert "Methods offered for" in text and "(paid in Tryton): partial\n" in text
    assert "invoice refunded FULL" in text and "cancelled draft        draft   cancelled" in text
    assert "repairs: refused, the team's settings unchanged." in text
    assert "repairs: Tryton has no repair orders (no Tryton module provides them)" in text
    assert "Subscription: paid (Tryton has no commercial plan: no trial, no lock)." in text
    assert "Refund cancelled: draft credit note" in text  # the trail
    assert "Traceback" not in text


@pytest.mark.slow
def test_the_local_demo_builds_a_tryton_database_and_runs_every_flow_tryton_serves() -> None:
    text = _demo("--tryton-local")
    assert text.startswith("aftersales demo on Tryton: a new Tryton database (SQLite")
    _shows_the_refund_flows_and_the_refusals(text)


def test_the_demo_over_xml_rpc_uses_the_company_the_database_has(
    tryton_server: TrytonServer,
) -> None:
    text = _demo("--tryton", tryton_server.url, "--tryton-password", PASSWORD)
    _shows_the_refund_flows_and_the_refusals(text)
    assert text.endswith(f"credit notes stay in {tryton_server.url}.\n")


def test_the_demo_names_what_an_existing_database_lacks(tryton: Tryton) -> None:
    companies = Model.get("company.company", config=tryton.config).find([])
    with pytest.raises(ConfigurationError, match="an open fiscal year holding 1990-01-01"):
        existing_accounting(tryton.config, today=dt.date(1990, 1, 1))
    assert Model.get("company.company", config=tryton.config).find([]) == companies
    found = existing_accounting(tryton.config, today=dt.date.today())
    assert found.company_id == tryton.accounting.company_id
