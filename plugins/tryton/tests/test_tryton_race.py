"""Caps hold although Tryton does not enforce them: eight processes refund one Tryton
invoice, or return units of one Tryton delivery, at once, each through its own application
(the SQL after-sales store on
PostgreSQL, Tryton over XML-RPC on a real ``trytond``). Tryton credits whatever it is asked
(``test_tryton_credits_more_than_was_invoiced_so_the_caller_must_cap``); the library's
claim on the invoice (the delivery) in the after-sales store, taken before it reads it,
makes the refunds of one invoice (the returns of one delivery) run one after the other, so
exactly what was invoiced is credited (what was delivered is returned)."""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest
from proteus import Model
from tests.postgres import PostgresServer, aftersales_postgres  # noqa: F401 (fixture)

from aftersales import AfterSales
from aftersales.backends.sql import SqlBackend
from aftersales.clock import FrozenClock
from aftersales.models import DocumentKind, Money, Service
from aftersales.testing.conformance.processes import WorkerPool, refund_in_steps, return_in_steps
from aftersales.testing.scenario import AGENT
from aftersales_tryton import invoices
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.builder import TrytonBuilder
from tryton_server import ADMIN, PASSWORD, TrytonServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

START = "2026-11-28T09:00:00+00:00"
WORKERS = 8
RACER_PASSWORD = "racer-password-8"


@pytest.fixture(scope="module")
def racers(tryton_server: TrytonServer) -> list[str]:
    """A Tryton user per worker, in every group, of the administrator's company: trytond checks
    a caller's session by reading every session of its user, so workers sharing one user
    fail when one of them logs out while another is calling (docs/tryton.md)."""
    erp = TrytonBackend(url=tryton_server.url, user=ADMIN, password=PASSWORD)
    try:
        users = Model.get("res.user", config=erp.config)
        groups = Model.get("res.group", config=erp.config)
        companies = Model.get("company.company", config=erp.config)
        (admin,) = users.find([("login", "=", ADMIN)])
        group_ids = [group.id for group in groups.find([])]  # every right the modules define
        company_id = admin.company.id
        logins = [f"racer{n}" for n in range(WORKERS)]
        for login in logins:
            user = users(login=login, name=login, password=RACER_PASSWORD)
            user.groups.extend(groups(group_id) for group_id in group_ids)
            user.companies.append(companies(company_id))
            user.company = companies(company_id)
            user.save()
        return logins
    finally:
        erp.close()


def _tryton(url: str, login: str) -> functools.partial[TrytonBackend]:
    return functools.partial(TrytonBackend, url=url, user=login, password=RACER_PASSWORD)


@pytest.fixture
def store_url(aftersales_postgres: PostgresServer) -> str:  # noqa: F811
    url = aftersales_postgres.create_database()
    SqlBackend(url).close()  # migrated before the workers open it
    return url


def test_eight_processes_never_credit_more_than_tryton_invoiced(
    tryton_server: TrytonServer, racers: list[str], store_url: str
) -> None:
    clock = FrozenClock(START)
    erp = TrytonBackend(url=tryton_server.url, user=ADMIN, password=PASSWORD)
    store = SqlBackend(store_url)
    try:
        app = AfterSales(store, clock=clock, plugins=[erp], services={Service.REFUNDS})
        assert app.pm.owners()["accounting"] == "tryton"
        world = TrytonBuilder(erp, tryton_server.database.accounting, store.builder(clock))
        ana = world.customer(name="Ana Racer")
        kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
        invoice = world.invoice(customer=ana, lines=[(kettle, 6)])  # 145.20 EUR
        team = world.team(name="Support", services={Service.REFUNDS})
        ticket = world.ticket(team=team, title="Six kettles", customer=ana, product=kettle)
        opens = functools.partial(SqlBackend, store_url)
        args = [
            (opens, START, ticket.id, invoice.id, 2, _tryton(tryton_server.url, login))
            for login in racers
        ]
        with WorkerPool(WORKERS) as pool:
            batches = pool.run(refund_in_steps, args)
        numbers = [n for batch in batches for n in batch]
        assert len(numbers) == len(set(numbers)) == 6  # 16 tries: the six units, no more
        after = app.runtime.read(lambda _uow: app.hooks.get_refundable(invoice.id))
        # what Tryton holds credited (drafts and posted): all of it, never more
        assert after.credited == invoice.total == Money.of("145.20", "EUR")
        posted = [invoices.read_invoice(erp.config, int(n)) for n in _note_ids(app, ticket.id)]
        assert sorted(str(p.number) for p in posted) == sorted(numbers)  # Tryton's own numbers
    finally:
        erp.close()
        store.close()


def test_eight_processes_never_return_more_than_tryton_delivered(
    tryton_server: TrytonServer, racers: list[str], store_url: str
) -> None:
    clock = FrozenClock(START)
    erp = TrytonBackend(url=tryton_server.url, user=ADMIN, password=PASSWORD)
    store = SqlBackend(store_url)
    try:
        app = AfterSales(store, clock=clock, plugins=[erp], services={Service.RETURNS})
        assert app.pm.owners()["stock"] == "tryton"
        world = TrytonBuilder(erp, tryton_server.database.accounting, store.builder(clock))
        luis = world.customer(name="Luis Racer")
        kettle = world.product(name="Kettle", price=Decimal("20.00"))
        delivery = world.delivery(customer=luis, lines=[(kettle, 6)])
        team = world.team(name="Returns", services={Service.RETURNS})
        ticket = world.ticket(team=team, title="Six kettles back", customer=luis)
        move = delivery.moves[0].id
        opens = functools.partial(SqlBackend, store_url)
        args = [
            (opens, START, ticket.id, delivery.id, move, 2, _tryton(tryton_server.url, login))
            for login in racers
        ]
        with WorkerPool(WORKERS) as pool:
            batches = pool.run(return_in_steps, args)
        made = [r for batch in batches for r in batch]
        assert len(made) == len(set(made)) == 6  # 16 tries: the six units, no more
        after = app.runtime.read(lambda _uow: app.hooks.get_delivery(delivery.id))
        assert [(b.delivered, b.returned) for b in after.moves] == [(Decimal(6), Decimal(6))]
    finally:
        erp.close()
        store.close()


def _note_ids(app: AfterSales, ticket_id: str) -> list[str]:
    """The credit notes linked to the ticket (the after-sales store's links)."""
    view = app.tickets.view(ticket_id, actor=AGENT)
    return [d.document_id for d in view.documents if d.kind is DocumentKind.CREDIT_NOTE]
