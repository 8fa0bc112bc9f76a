"""`app.imports`: a host's invoices, deliveries and programs, inserted once by external id,
on memory, SQLite and PostgreSQL, and by 8 processes at once."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock, hookimpl
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import AccessDenied, ConfigurationError, ImportConflict, InvalidInput
from aftersales.models import (
    CreditMethod,
    Invoice,
    InvoiceLine,
    InvoiceState,
    MatchKind,
    Money,
    PaymentState,
    PickingState,
    Reward,
    RewardKind,
    Tax,
)
from aftersales.models.imports import (
    DeliveryImport,
    InvoiceImport,
    MoveImport,
    PaymentImport,
    ProgramImport,
)
from aftersales.models.queries import InvoiceQuery
from aftersales.testing import assert_unchanged, build_scenario
from aftersales.testing.conformance.processes import WorkerPool
from aftersales.testing.scenario import AGENT, SYSTEM, Scenario

START = "2026-11-28T09:00:00+00:00"
VAT = Tax(name="21%", percent=Decimal(21))
PAID_AT = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)
WORKERS = 8

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    fixture = "new_sqlite" if request.param == "sqlite" else "new_postgres"
    opened = SqlBackend(request.getfixturevalue(fixture)())
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def world(backend: Any, clock: FrozenClock) -> Scenario:
    return build_scenario(backend.builder(clock))


@pytest.fixture
def app(backend: Any, clock: FrozenClock) -> AfterSales:
    return AfterSales(backend, clock=clock)


def _line(world: Scenario, quantity: int = 2, price: str = "49.95") -> InvoiceLine:
    return InvoiceLine(
        description="Blender",
        quantity=Decimal(quantity),
        unit_price=Money.of(price, "EUR"),
        taxes=(VAT,),
        product_id=world.blender.id,
    )


def _invoice(world: Scenario, external_id: str, *paid: str, **changes: Any) -> InvoiceImport:
    fields: dict[str, Any] = {
        "external_id": external_id,
        "customer_id": world.customer.id,
        "number": f"HOST/{external_id}",
        "invoice_date": date(2026, 10, 1),
        "currency": "EUR",
        "lines": [_line(world)],
        "payments": [PaymentImport(amount=Money.of(a, "EUR"), paid_at=PAID_AT) for a in paid],
    }
    return InvoiceImport(**{**fields, **changes})


def _delivery(world: Scenario, external_id: str, quantity: int = 3) -> DeliveryImport:
    return DeliveryImport(
        external_id=external_id,
        partner_id=world.customer.id,
        reference=f"HOST/OUT/{external_id}",
        moves=[MoveImport(product_id=world.kettle.id, quantity=Decimal(quantity))],
        done_at=PAID_AT,
    )


def _program(external_id: str, name: str = "Sorry 15%") -> ProgramImport:
    return ProgramImport(
        external_id=external_id,
        name=name,
        currency="EUR",
        rewards=[Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(15))],
    )


# -- invoices ---------------------------------------------------------------------------------


def test_invoices_are_stored_posted_paid_and_settled_once(
    app: AfterSales, backend: Any, world: Scenario
) -> None:
    # 2 x 49.95 + 21 % = 120.88
    records = [_invoice(world, "h-2", "120.88"), _invoice(world, "h-1", "20.00", "30.00")]
    first = app.imports.invoices(records, actor=SYSTEM)
    assert [(o.external_id, o.created) for o in first] == [("h-2", True), ("h-1", True)]
    paid, partial = (app.hooks.get_invoice(o.record.id) for o in first)
    assert paid == first[0].record and partial == first[1].record
    assert (paid.state, paid.number, paid.invoice_date) == (
        InvoiceState.POSTED,
        "HOST/h-2",
        date(2026, 10, 1),
    )
    assert paid.total == Money.of("120.88", "EUR")
    assert (paid.payment_state, paid.residual) == (PaymentState.PAID, Money.of("0.00", "EUR"))
    assert (partial.payment_state, partial.residual) == (
        PaymentState.PARTIAL,
        Money.of("70.88", "EUR"),
    )
    matches = backend.ledger.matches(partial.id)
    assert [(m.kind, m.amount) for m in matches] == [
        (MatchKind.PAYMENT, Money.of("20.00", "EUR")),
        (MatchKind.PAYMENT, Money.of("30.00", "EUR")),
    ]
    with assert_unchanged(backend):
        again = app.imports.invoices(list(reversed(records)), actor=SYSTEM)
    assert [(o.external_id, o.created, o.record) for o in again] == [
        ("h-1", False, partial),
        ("h-2", False, paid),
    ]


def test_an_import_is_audited_with_what_it_created(app: AfterSales, world: Scenario) -> None:
    made = app.imports.invoices([_invoice(world, "h-1")], actor=SYSTEM)
    app.imports.invoices([_invoice(world, "h-1")], actor=SYSTEM)  # nothing new: no entry
    entries = [e for e in app.hooks.audit_list() if e.action == "invoices imported"]
    assert [(e.actor_id, e.document_ids, e.detail) for e in entries] == [
        ("system", (made[0].record.id,), "1 created, 0 already there")
    ]


def _goodwill(amount: str) -> list[InvoiceLine]:
    return [
        InvoiceLine(description="Goodwill", quantity=Decimal(1), unit_price=Money.of(amount, "EUR"))
    ]


def test_imported_invoices_are_refunded_like_any_other(
    app: AfterSales, backend: Any, world: Scenario
) -> None:
    paid, partial = app.imports.invoices(
        [_invoice(world, "h-1", "120.88"), _invoice(world, "h-2", "50.00")], actor=SYSTEM
    )
    # a paid invoice: a partial credit note, open to the customer; the invoice stays paid
    draft = app.refunds.reverse(
        world.ticket.id, paid.record.id, lines=_goodwill("10.00"), actor=AGENT
    )
    credit = app.refunds.confirm(draft.credit_note.id, actor=AGENT)
    assert credit.credit_note.state is InvoiceState.POSTED
    assert credit.customer_credit == Money.of("10.00", "EUR")
    after = app.hooks.get_invoice(paid.record.id)
    assert (after.payment_state, after.residual) == (PaymentState.PAID, Money.of(0, "EUR"))
    # a partly paid one: a full credit note takes its payment off and reverses it
    full = app.refunds.reverse(
        world.ticket.id, partial.record.id, method=CreditMethod.FULL, actor=AGENT
    )
    assert full.customer_credit == Money.of("50.00", "EUR")  # its payment, released
    reversed_ = app.hooks.get_invoice(partial.record.id)
    assert (reversed_.payment_state, reversed_.residual) == (
        PaymentState.REVERSED,
        Money.of(0, "EUR"),
    )
    # the ERP moved the invoices on; importing them again finds them, unchanged
    with assert_unchanged(backend):
        again = app.imports.invoices(
            [_invoice(world, "h-1", "120.88"), _invoice(world, "h-2", "50.00")], actor=SYSTEM
        )
    assert [(o.created, o.record) for o in again] == [(False, after), (False, reversed_)]


def test_a_record_changed_since_its_import_is_refused_naming_the_fields(
    app: AfterSales, backend: Any, world: Scenario
) -> None:
    app.imports.invoices([_invoice(world, "h-1")], actor=SYSTEM)
    changed = _invoice(world, "h-1", number="HOST/other", lines=[_line(world, quantity=3)])
    with pytest.raises(ImportConflict) as refused, assert_unchanged(backend):
        app.imports.invoices([_invoice(world, "h-0"), changed], actor=SYSTEM)
    assert (refused.value.kind, refused.value.external_id, refused.value.differing) == (
        "invoice",
        "h-1",
        ("number", "lines"),
    )
    assert "invoice h-1 was imported before with other number, lines" in str(refused.value)


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (lambda w: [_invoice(w, "h-1"), _invoice(w, "h-1")], "records[1].external_id", "twice"),
        (
            lambda w: [_invoice(w, "h-1"), _invoice(w, "h-2", customer_id="nobody-7")],
            "records[1].customer_id",
            "no partner has this id",
        ),
        (
            lambda w: [_invoice(w, "h-1", lines=[_line(w), _unknown_product(_line(w))])],
            "records[0].lines[1].product_id",
            "no product has this id",
        ),
        (lambda w: [_invoice(w, "h-1"), {"external_id": "h-2"}], "records[1]", "expected a list"),
        (lambda w: [_delivery(w, "d-1")], "records[0]", "InvoiceImport records"),
        (lambda w: _invoice(w, "h-1"), "records", "expected a list"),
        (lambda w: [_invoice(w, f"h-{n}") for n in range(1001)], "records", "at most 1000"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    app: AfterSales,
    backend: Any,
    world: Scenario,
    bad: Callable[[Scenario], Any],
    field: str,
    reason: str,
) -> None:
    records = bad(world)
    with pytest.raises(InvalidInput, match=reason) as refused, assert_unchanged(backend):
        app.imports.invoices(records, actor=SYSTEM)
    assert refused.value.field == field


def _unknown_product(line: InvoiceLine) -> InvoiceLine:
    """`line` of a product the ERP does not have."""
    return attrs.evolve(line, product_id="product-unknown")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda w: _invoice(w, "h-1", "120.89"), "payments"),
        (lambda w: _invoice(w, "h-1", lines=[]), "lines"),
        (lambda w: _invoice(w, "h-1", currency="USD"), "lines[0].unit_price"),
        (
            lambda w: _invoice(
                w,
                "h-1",
                payments=[PaymentImport(amount=Money.of("1", "USD"), paid_at=PAID_AT)],
            ),
            "payments[0].amount",
        ),
        (lambda w: _invoice(w, "h 1"), "external_id"),
        (lambda w: _invoice(w, "h-1", invoice_date=PAID_AT), "invoice_date"),
    ],
)
def test_records_refuse_bad_data_when_built(
    world: Scenario, build: Callable[[Scenario], Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        build(world)
    assert refused.value.field == field


def test_payments_above_the_total_name_it() -> None:
    line = InvoiceLine(description="x", quantity=Decimal(1), unit_price=Money.of("10", "EUR"))
    with pytest.raises(InvalidInput, match=r"add up to 10.01 EUR, more than the total 10.00 EUR"):
        InvoiceImport(
            external_id="h-1",
            customer_id="c-1",
            number="N1",
            invoice_date=date(2026, 1, 1),
            currency="EUR",
            lines=[line],
            payments=[PaymentImport(amount=Money.of("10.01", "EUR"), paid_at=PAID_AT)],
        )


def test_only_the_system_actor_imports(app: AfterSales, backend: Any, world: Scenario) -> None:
    with pytest.raises(AccessDenied, match="import documents"), assert_unchanged(backend):
        app.imports.invoices([_invoice(world, "h-1")], actor=AGENT)


class _OtherAccounting:
    """An ERP plugin that takes the accounting port (and no other)."""

    name = "other-erp"

    @hookimpl
    def aftersales_accounting_get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        return None


def test_imports_into_a_store_that_is_not_the_erp_are_refused(
    backend: Any, clock: FrozenClock, world: Scenario
) -> None:
    app = AfterSales(backend, clock=clock, services=(), plugins=[_OtherAccounting()])
    assert app.ports()["accounting"] == "other-erp"
    with pytest.raises(ConfigurationError, match="invoices are other-erp's"):
        app.imports.invoices([_invoice(world, "h-1")], actor=SYSTEM)
    (made,) = app.imports.deliveries([_delivery(world, "d-1")], actor=SYSTEM)
    assert made.created


# -- deliveries and programs ------------------------------------------------------------------


def test_an_imported_delivery_is_done_and_returnable(
    app: AfterSales, backend: Any, world: Scenario
) -> None:
    (made,) = app.imports.deliveries([_delivery(world, "d-1")], actor=SYSTEM)
    delivery = made.record
    assert (made.created, delivery.state, delivery.done_at) == (True, PickingState.DONE, PAID_AT)
    assert app.hooks.get_picking(delivery.id) == delivery
    ret = app.returns.create(
        world.ticket.id, delivery.id, {delivery.moves[0].id: Decimal(2)}, actor=AGENT
    )
    assert ret.return_of_id == delivery.id
    with assert_unchanged(backend):
        (again,) = app.imports.deliveries([_delivery(world, "d-1")], actor=SYSTEM)
    assert (again.created, again.record) == (False, delivery)
    with pytest.raises(ImportConflict, match="other moves"), assert_unchanged(backend):
        app.imports.deliveries([_delivery(world, "d-1", quantity=4)], actor=SYSTEM)


def test_an_imported_program_gives_coupons(app: AfterSales, backend: Any, world: Scenario) -> None:
    (made,) = app.imports.programs([_program("p-1")], actor=SYSTEM)
    assert made.created and app.hooks.get_program(made.record.id) == made.record
    coupon = app.coupons.generate(world.ticket.id, made.record.id, actor=AGENT)
    assert coupon.program_id == made.record.id
    with assert_unchanged(backend):
        (again,) = app.imports.programs([_program("p-1")], actor=SYSTEM)
    assert (again.created, again.record) == (False, made.record)
    with pytest.raises(ImportConflict, match="other name"), assert_unchanged(backend):
        app.imports.programs([_program("p-1", name="Sorry 20%")], actor=SYSTEM)


def test_one_external_id_may_name_an_invoice_a_delivery_and_a_program(
    app: AfterSales, world: Scenario
) -> None:
    """External ids are unique per kind: a host numbers each table on its own."""
    assert app.imports.invoices([_invoice(world, "7")], actor=SYSTEM)[0].created
    assert app.imports.deliveries([_delivery(world, "7")], actor=SYSTEM)[0].created
    assert app.imports.programs([_program("7")], actor=SYSTEM)[0].created


def test_eight_threads_importing_one_batch_make_each_document_once(clock: FrozenClock) -> None:
    """The memory backend: units hold the store's lock, so the lookup and the insert of an
    external id are one step."""
    backend = MemoryBackend()
    world = build_scenario(backend.builder(clock))
    app = AfterSales(backend, clock=clock)
    records = [_delivery(world, f"d-{n}") for n in range(10)]
    start = threading.Barrier(WORKERS)

    def run() -> list[tuple[str, str, bool]]:
        start.wait(10)
        done = app.imports.deliveries(records, actor=SYSTEM)
        return [(o.external_id, o.record.id, o.created) for o in done]

    with ThreadPoolExecutor(WORKERS) as threads:
        runs = [f.result() for f in [threads.submit(run) for _ in range(WORKERS)]]
    created = sorted(external for run in runs for external, _id, made in run if made)
    assert created == sorted(record.external_id for record in records)
    assert len({tuple(picking_id for _e, picking_id, _m in run) for run in runs}) == 1
    assert len(backend.store.values("pickings")) == 1 + len(records)  # the scenario's one


# -- 8 processes at once ----------------------------------------------------------------------


def import_at_once(
    barrier: Any, factory: Callable[[], SqlBackend], records: Sequence[InvoiceImport]
) -> list[tuple[str, str, bool]]:
    """Import `records` as soon as every worker is ready; check that every invoice read
    back is whole (lines, payments, settlement) and return `(external id, id, created)`."""
    backend = factory()
    try:
        app = AfterSales(backend, clock=FrozenClock(START))
        barrier.wait(60)
        outcomes = app.imports.invoices(records, actor=SYSTEM)
        for record, outcome in zip(records, outcomes, strict=True):
            stored = app.hooks.get_invoice(outcome.record.id)
            paid = Money.sum((p.amount for p in record.payments), "EUR")
            assert stored == outcome.record, record.external_id
            assert stored.lines == record.lines, record.external_id
            assert stored.residual == stored.total - paid, record.external_id
        return [(o.external_id, o.record.id, o.created) for o in outcomes]
    finally:
        backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_eight_processes_importing_one_batch_make_each_invoice_once(
    request: pytest.FixtureRequest, kind: str, clock: FrozenClock
) -> None:
    url: str = request.getfixturevalue("new_sqlite" if kind == "sqlite" else "new_postgres")()
    backend = SqlBackend(url)
    try:
        world = build_scenario(backend.builder(clock))
        records = [
            _invoice(world, f"h-{n:02d}", *(("120.88",) if n % 2 else ())) for n in range(12)
        ]
        with WorkerPool(WORKERS) as pool:
            runs = pool.run(import_at_once, [(functools.partial(SqlBackend, url), records)] * 8)
        created = sorted(external for run in runs for external, _id, made in run if made)
        assert created == [record.external_id for record in records]
        assert len({tuple(run_ids for _e, run_ids, _m in run) for run in runs}) == 1
        app = AfterSales(backend, clock=clock)
        ids = [invoice_id for _e, invoice_id, _m in runs[0]]
        imported = {i.id for i in backend.ledger.find_invoices(_customer_query(world))} & set(ids)
        assert len(imported) == len(records)
        paid_id = ids[1]  # h-01: paid in full
        draft = app.refunds.reverse(world.ticket.id, paid_id, lines=_goodwill("10.00"), actor=AGENT)
        credit = app.refunds.confirm(draft.credit_note.id, actor=AGENT)
        assert credit.credit_note.state is InvoiceState.POSTED
        after = app.hooks.get_invoice(paid_id)
        assert (after.payment_state, after.residual) == (PaymentState.PAID, Money.of(0, "EUR"))
        assert len(backend.ledger.matches(paid_id)) == 1  # its one payment, imported once
    finally:
        backend.close()


def _customer_query(world: Scenario) -> InvoiceQuery:
    return InvoiceQuery(customer_ids=frozenset({world.customer.id}))
