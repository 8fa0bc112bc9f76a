"""The gateway over real XML-RPC: a trytond server on 127.0.0.1 serving its own copy."""

from __future__ import annotations

import datetime as dt
import time
import xmlrpc.client
from decimal import Decimal

import pytest
from proteus import Model

from aftersales.errors import ConfigurationError
from aftersales_tryton import coupons, invoices, shipments
from aftersales_tryton.connection import over_rpc, rpc_url
from aftersales_tryton.errors import TrytonWarning
from conftest import TIMINGS, Tryton
from tryton_server import TrytonServer


def test_the_server_answers_on_the_database_rpc_path_only(tryton_server: TrytonServer) -> None:
    assert tryton_server.url.endswith(f"/{tryton_server.database.name}/rpc/")
    plain = tryton_server.url.removesuffix("rpc/")
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        xmlrpc.client.ServerProxy(plain).common.server.version()
    assert refused.value.errcode == 405
    with pytest.raises(ConfigurationError):
        rpc_url("127.0.0.1", 1, "")
    with pytest.raises(ConfigurationError, match="refused the login"):
        over_rpc(tryton_server.url, user="admin", password="wrong")
    with pytest.raises(ConfigurationError, match="not in the URL"):
        over_rpc("http://admin:admin@127.0.0.1:1/db/rpc/", user="admin", password="admin")


def test_one_rpc_round_trip_is_measured(tryton_rpc: Tryton) -> None:
    user = Model.get("res.user", config=tryton_rpc.config)
    user.get_preferences(True, {})  # warm
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        user.get_preferences(True, {})
    TIMINGS["rpc_round_trip"] = (time.perf_counter() - started) / rounds
    assert TIMINGS["rpc_round_trip"] < 5


def test_an_invoice_is_posted_and_refunded_over_rpc(tryton_rpc: Tryton) -> None:
    config = tryton_rpc.config
    customer = tryton_rpc.world.customer("Remote Customer")
    product = tryton_rpc.world.product("Remote Blender", Decimal("10.00"))
    draft = invoices.create_customer_invoice(config, customer, [(product, 3)])
    posted = invoices.post_invoice(config, draft.id)
    assert posted.state == "posted" and posted.total_amount == Decimal("36.30")
    credit = invoices.credit_invoice(config, posted.id, with_refund=True, reference="as-rpc-1")
    assert credit.invoice.state == "cancelled"
    assert credit.credit_note.total_amount == Decimal("-36.30")
    assert invoices.find_by_reference(config, "as-rpc-1") == (credit.credit_note,)


def test_a_return_is_received_over_rpc(tryton_rpc: Tryton) -> None:
    config = tryton_rpc.config
    customer = tryton_rpc.world.customer("Remote Returner")
    product = tryton_rpc.world.product("Remote Kettle", Decimal("25.00"))
    created = shipments.create_customer_return(config, customer, [(product, 2)], reference="r-1")
    with pytest.raises(TrytonWarning, match="no origin"):
        shipments.receive_return(config, created.id)
    received = shipments.receive_return(config, created.id, acknowledge=["done"])
    assert received.state == "received" and received.number == created.number


def test_a_coupon_is_issued_and_evaluated_over_rpc(tryton_rpc: Tryton) -> None:
    config = tryton_rpc.config
    customer = tryton_rpc.world.customer("Remote Coupon Holder")
    program = coupons.create_program(config, "Remote 5%", formula="0.95 * unit_price")
    issued = coupons.issue_coupon(config, program.coupon_id, "REMOTE-1")
    status = coupons.evaluate(config, "REMOTE-1", customer)
    assert status.active and status.uses == 0 and status.number == issued


def test_a_warning_over_rpc_is_acknowledged_through_res_user_warning(tryton_rpc: Tryton) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    config = tryton_rpc.config
    customer = tryton_rpc.world.customer("Future Customer")
    product = tryton_rpc.world.product("Future Product", Decimal("5.00"))
    draft = invoices.create_customer_invoice(
        config, customer, [(product, 1)], invoice_date=tomorrow
    )
    with pytest.raises(TrytonWarning, match="acknowledge it"):
        invoices.post_invoice(config, draft.id)
    assert invoices.read_invoice(config, draft.id).state == "draft"
    posted = invoices.post_invoice(config, draft.id, acknowledge=["invoice_date_future"])
    assert posted.state == "posted" and posted.invoice_date == tomorrow
