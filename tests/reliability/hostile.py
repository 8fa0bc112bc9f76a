"""Hostile input for every public call and every parameter (RL-4, G-7).

`CALLS` holds, for every public service call, valid arguments on the standard scenario
and, for each of its parameters, the hostile values to try with the exception each must
raise: wrong types, floats for money and quantities, NaN and Infinity, negative and zero,
huge numbers, empty, blank and over-long strings, control characters, naive datetimes,
unknown enum values, malformed and unknown ids, other customers' records, injected email
headers. `actor` and `idempotency_key` are attacked on every call that takes them.

`check_case()` makes one call with one hostile value and checks the refusal: the
exception is the documented one (never a raw `TypeError`, `KeyError`, `decimal`
error…), an [`InvalidInput`][aftersales.errors.InvalidInput] names the parameter, and the store is
exactly as it was, with nothing dispatched or delivered.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from aftersales.errors import (
    AccessDenied,
    AfterSalesError,
    InvalidCoupon,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
    QuantityExceeded,
    ServiceDisabled,
)
from aftersales.models import (
    Actor,
    CreditMethod,
    EmailState,
    FieldServiceTask,
    Group,
    InvoiceLine,
    InvoiceMethod,
    Money,
    OperationLine,
    Order,
    OrderLine,
    PartAction,
    PartLine,
    Picking,
    RepairOrder,
    Reward,
    RewardKind,
    Service,
    TaskStage,
    Ticket,
)
from aftersales.models.imports import (
    DeliveryImport,
    InvoiceImport,
    MoveImport,
    PaymentImport,
    ProgramImport,
)
from aftersales.services.coupons import CouponInfo
from aftersales.testing.snapshots import diff
from tests.reliability.flows import SERVICES
from tests.reliability.setting import Setting

__all__ = [
    "CALLS",
    "Case",
    "Hostile",
    "PublicCall",
    "Targets",
    "call_named",
    "cases",
    "check_case",
    "check_cases",
    "prepare_targets",
    "public_calls",
]


NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


# -- the records the calls work on -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class Targets:
    """Valid targets for every call, and the same kinds of records of another customer."""

    ticket: Ticket
    invoice_id: str
    credit_note_id: str
    coupon: CouponInfo
    delivery: Picking
    return_id: str
    repair_draft: RepairOrder
    repair_confirmed: str
    repair_under_repair: str
    repair_to_invoice: str
    repair_cancelled: str
    task: FieldServiceTask
    portal: Actor
    other_ticket: Ticket
    other_invoice_id: str
    other_credit_note_id: str
    other_order_id: str
    other_delivery: Picking
    other_return_id: str
    other_coupon: CouponInfo
    other_repair_id: str
    other_task_id: str
    other_partner_id: str
    closed_ticket_id: str
    closed_ticket_ref: str
    closed_team_id: str
    off_ticket_id: str
    dead_email_id: str
    sent_email_id: str
    plain_project_id: str
    kettle_id: str
    repair_service_id: str

    @property
    def move_id(self) -> str:
        return self.delivery.moves[0].id

    @property
    def repair_draft_id(self) -> str:
        return self.repair_draft.id


def prepare_targets(s: Setting) -> Targets:
    """Build `Targets` in the setting's world (through the builder and the services)."""
    sc, app, agent, world = s.scenario, s.app, s.agent, s.world
    ticket = s.ticket()
    invoice = s.invoice()
    credit_note = app.refunds.reverse(
        ticket.id, invoice.id, lines=_credit("5.00"), actor=agent
    ).credit_note
    coupon = app.coupons.generate(ticket.id, sc.program.id, actor=agent)
    delivery = s.delivery()
    ret = app.returns.create(
        ticket.id, delivery.id, {delivery.moves[0].id: Decimal(1)}, actor=agent
    )

    def repair(*steps: str, method: InvoiceMethod = InvoiceMethod.NONE) -> str:
        made = app.repairs.create(
            ticket.id,
            invoice_method=method,
            operations=[OperationLine(product_id=sc.repair_service.id)],
            actor=agent,
        )
        for step in steps:
            made = getattr(app.repairs, step)(made.id, actor=agent)
        return made.id

    draft = app.repairs.create(
        ticket.id,
        parts=[PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=Decimal(1))],
        actor=agent,
    )
    task = app.field_service.create_task(ticket.id, actor=agent)

    other = sc.other_customer
    other_order = world.sale_order(customer=other)
    other_ticket = world.ticket(
        team=sc.team, title="Someone else's kettle", customer=other, product=sc.kettle
    )
    other_invoice = world.invoice(customer=other, lines=[(sc.kettle, 1)], sale_order=other_order)
    other_note = app.refunds.reverse(
        other_ticket.id, other_invoice.id, lines=_credit("1.00"), actor=agent
    ).credit_note
    other_delivery = world.delivery(customer=other, lines=[(sc.kettle, 2)], sale_order=other_order)
    other_return = app.returns.create(
        other_ticket.id, other_delivery.id, {other_delivery.moves[0].id: Decimal(1)}, actor=agent
    )
    other_coupon = app.coupons.generate(other_ticket.id, sc.program.id, actor=agent)
    other_repair = app.repairs.create(other_ticket.id, actor=agent)
    other_task = app.field_service.create_task(other_ticket.id, actor=agent)

    closed_team = world.team(
        name="Closed team", services=set(Service), members=["someone-else"], members_only=True
    )
    closed_ticket = world.ticket(team=closed_team, title="Private", customer=sc.customer)
    off_team = world.team(name="Nothing on")
    off_ticket = world.ticket(
        team=off_team, title="No services", customer=sc.customer, product=sc.blender
    )
    plain_project = world.project(name="Internal", fsm=False)
    sent = app.coupons.send(ticket.id, coupon.id, actor=agent)
    dead = attrs.evolve(
        app.outbox.email(sent.email_id, actor=s.manager),
        id=f"{sent.email_id}-dead",
        state=EmailState.DEAD,
        attempts=10,
        last_error="BackendError: SMTP refused the message for good",
    )
    app.runtime.write(lambda _uow: app.hooks.mail_enqueue(dead))
    return Targets(
        ticket=ticket,
        invoice_id=invoice.id,
        credit_note_id=credit_note.id,
        coupon=coupon,
        delivery=delivery,
        return_id=ret.id,
        repair_draft=draft,
        repair_confirmed=repair("confirm"),
        repair_under_repair=repair("confirm", "start"),
        repair_to_invoice=repair("confirm", method=InvoiceMethod.BEFORE_REPAIR),
        repair_cancelled=repair("cancel"),
        task=task,
        portal=Actor(user_id="portal-ana", groups={Group.PORTAL}, partner_id=sc.customer.id),
        other_ticket=other_ticket,
        other_invoice_id=other_invoice.id,
        other_credit_note_id=other_note.id,
        other_order_id=other_order.id,
        other_delivery=other_delivery,
        other_return_id=other_return.id,
        other_coupon=other_coupon,
        other_repair_id=other_repair.id,
        other_task_id=other_task.id,
        other_partner_id=other.id,
        closed_ticket_id=closed_ticket.id,
        closed_ticket_ref=closed_ticket.ref,
        closed_team_id=closed_team.id,
        off_ticket_id=off_ticket.id,
        dead_email_id=dead.id,
        sent_email_id=sent.email_id,
        plain_project_id=plain_project.id,
        kettle_id=sc.kettle.id,
        repair_service_id=sc.repair_service.id,
    )


def _credit(
    amount: str, currency: str = "EUR", quantity: Decimal = Decimal(1)
) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            description="Goodwill credit", quantity=quantity, unit_price=Money.of(amount, currency)
        )
    ]


# -- hostile values --------------------------------------------------------------------------


@attrs.frozen
class Hostile:
    """One bad value for a parameter and the exception it must raise.

    `value` may be a function of the `Targets` (for ids of real records).
    `field` is what `InvalidInput.field` must start with (default: the parameter).
    """

    label: str
    value: Any
    expected: type[Exception]
    field: str | None = None

    def resolve(self, targets: Targets) -> Any:
        return self.value(targets) if callable(self.value) else self.value


Values = Callable[[], list[Hostile]]


def _bad(label: str, value: Any, expected: type[Exception] = InvalidInput, **kw: Any) -> Hostile:
    return Hostile(label, value, expected, **kw)


def wrong_types(*, optional: bool = False, exclude: tuple[str, ...] = ()) -> list[Hostile]:
    values = [
        _bad("int", 42),
        _bad("float", 1.5),
        _bad("bool", True),
        _bad("bytes", b"bytes"),
        _bad("list", ["x"]),
        _bad("dict", {"id": "x"}),
        _bad("object", object()),
    ]
    if not optional:
        values.append(_bad("None", None))
    return [v for v in values if v.label not in exclude]


#: Strings that can never be an id (ids are 1-128 of letters, digits and `_.:/@-`).
MALFORMED_IDS: tuple[tuple[str, str], ...] = (
    ("empty", ""),
    ("blank", "   "),
    ("over-long", "x" * 300),
    ("NUL", "id\x00-1"),
    ("line break", "id-1\nX-Injected: yes"),
    ("space", "id 1"),
    ("non-ASCII", "ïd-1"),
    ("SQL", "1' OR '1'='1"),
)


def an_id(
    kind: str,
    *,
    optional: bool = False,
    others: tuple[Hostile, ...] = (),
    unknown: type[Exception] | None = NotFound,
) -> Values:
    """An id parameter: wrong types and malformed strings are
    [`InvalidInput`][aftersales.errors.InvalidInput], a well-formed unknown id is `unknown`
    ([`NotFound`][aftersales.errors.NotFound]; `None` for an id that is not looked up, such as a
    user id), plus `others`."""

    def values() -> list[Hostile]:
        found = [
            *wrong_types(optional=optional),
            *(_bad(label, text) for label, text in MALFORMED_IDS),
            *others,
        ]
        if unknown is not None:
            found.append(_bad("unknown", f"{kind}-does-not-exist", unknown))
        return found

    return values


def a_text(
    *, max_length: int = 256, required: bool = True, multiline: bool = False, optional: bool = False
) -> Values:
    def values() -> list[Hostile]:
        found = [
            *wrong_types(optional=optional or not required, exclude=("list", "dict")),
            _bad("over-long", "x" * (max_length + 1)),
            _bad("NUL", "text\x00more"),
            _bad("escape sequence", "text\x1b[2Jmore"),
            _bad("DEL", "text\x7fmore"),
            _bad("lone surrogate", "text\ud800more"),
            _bad("bidi override", "text\u202emore"),
        ]
        if required:
            found += [_bad("empty", ""), _bad("blank", " \t ")]
        if not multiline:
            found += [
                _bad("line break", "text\r\nX-Injected: yes"),
                _bad("line separator", "text\u2028more"),
            ]
        return found

    return values


def a_day(*, optional: bool = True, past: type[Exception] | None = None) -> Values:
    def values() -> list[Hostile]:
        found = [
            *wrong_types(optional=optional),
            _bad("datetime", NOW),
            _bad("naive datetime", datetime(2026, 12, 1)),
            _bad("ISO string", "2026-12-01"),
        ]
        if past is not None:
            found.append(_bad("in the past", date(2000, 1, 1), past))
        return found

    return values


def a_moment(*, optional: bool = True) -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(optional=optional),
            _bad("naive datetime", datetime(2026, 12, 1, 10, 0)),
            _bad("date", date(2026, 12, 1)),
            _bad("ISO string", "2026-12-01T10:00:00+00:00"),
            _bad("timestamp", 1_796_000_000),
        ]

    return values


def an_enum(allowed: str, *, optional: bool = False, foreign: object = None) -> Values:
    def values() -> list[Hostile]:
        found = [
            *wrong_types(optional=optional),
            _bad("unknown value", "no-such-value"),
            _bad("upper-case name", allowed.upper()),
        ]
        if foreign is not None:
            found.append(_bad("member of another enum", foreign))
        return found

    return values


#: Numbers that are never a quantity: floats, NaN, Infinity, negative, zero, huge, text.
BAD_QUANTITIES: tuple[tuple[str, object], ...] = (
    ("float", 1.5),
    ("float NaN", float("nan")),
    ("float Infinity", float("inf")),
    ("Decimal NaN", Decimal("NaN")),
    ("Decimal sNaN", Decimal("sNaN")),
    ("Decimal Infinity", Decimal("Infinity")),
    ("Decimal -Infinity", Decimal("-Infinity")),
    ("negative", Decimal(-1)),
    ("negative int", -3),
    ("huge", Decimal("1e30")),
    ("astronomic", Decimal("1e1000000")),
    ("huge int", 10**5000),
    ("string", "1"),
    ("bool", True),
    ("None", None),
    ("list", [1]),
)


def a_quantity() -> Values:
    def values() -> list[Hostile]:
        return [
            *(_bad(label, value) for label, value in BAD_QUANTITIES),
            _bad("zero", Decimal(0)),
            _bad("rounds to zero", Decimal("0.0001")),
        ]

    return values


def quantities() -> Values:
    """`returns.create(quantities=…)`: move ids to quantities."""

    def values() -> list[Hostile]:
        found = [
            _bad(f"{label} quantity", lambda t, v=value: {t.move_id: v}, field="quantities")
            for label, value in BAD_QUANTITIES
        ]
        found += [
            _bad(
                "more than delivered",
                lambda t: {t.move_id: Decimal(100)},
                QuantityExceeded,
            ),
            _bad("only zeros", lambda t: {t.move_id: Decimal(0)}),
            _bad("empty", {}),
            _bad("unknown move", {"move-does-not-exist": Decimal(1)}),
            _bad("malformed move id", {"move\x00": Decimal(1)}),
            _bad("int move id", {42: Decimal(1)}),
            _bad(
                "move of another customer's delivery",
                lambda t: {t.other_delivery.moves[0].id: Decimal(1)},
            ),
            _bad("list", [Decimal(1)]),
            _bad("string", "1"),
            _bad("None", None),
        ]
        return found

    return values


def credit_lines(*, optional: bool) -> Values:
    """`refunds.reverse/update_draft(lines=…)`: InvoiceLine records."""

    def values() -> list[Hostile]:
        found = [
            *wrong_types(optional=optional, exclude=("list",)),
            _bad("string", "10.00"),
            _bad("no lines", []),
            _bad("a dict with a float price", [{"description": "x", "unit_price": 9.99}]),
            _bad("a number", [10]),
            _bad("a negative quantity", _credit("5.00", quantity=Decimal(-1))),
            _bad("a zero quantity", _credit("5.00", quantity=Decimal(0))),
            _bad("a zero price", _credit("0.00")),
            _bad("a negative price", _credit("-5.00")),
            _bad("another currency", _credit("5.00", currency="USD")),
            _bad("more than the invoice", _credit("100000.00"), QuantityExceeded),
            _bad(
                "an unknown product",
                [
                    InvoiceLine(
                        description="x",
                        quantity=Decimal(1),
                        unit_price=Money.of("1.00", "EUR"),
                        product_id="product-does-not-exist",
                    )
                ],
                NotFound,
            ),
        ]
        return found

    return values


def addresses() -> Values:
    """`coupons.send(extra_recipients=…)`: email addresses, one per entry."""

    def values() -> list[Hostile]:
        return [
            *wrong_types(exclude=("list", "dict")),
            _bad("a bare string", "someone@example.com"),
            _bad("a number", [42]),
            _bad("header injection (CRLF)", ["ana@example.com\r\nBcc: evil@example.net"]),
            _bad("header injection (LF)", ["ana@example.com\nSubject: spam"]),
            _bad("NUL", ["ana@exa\x00mple.com"]),
            _bad("lone surrogate", ["ana\udc00@example.com"]),
            _bad("bidi override", ["Ana \u202e <ana@example.com>"]),
            _bad("two addresses in one", ["ana@example.com, evil@example.net"]),
            _bad("semicolon list", ["ana@example.com;evil@example.net"]),
            _bad("not an address", ["not an address"]),
            _bad("no domain", ["ana@"]),
            _bad("empty", [""]),
            _bad("over-long", ["a" * 300 + "@example.com"]),
            _bad("non-ASCII domain", ["ana@exämple.com"]),
            _bad("too many", [f"r{n}@example.com" for n in range(200)]),
        ]

    return values


def a_code() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(exclude=("list", "dict")),
            _bad("empty", ""),
            _bad("blank", "   "),
            _bad("over-long", "C" * 300),
            _bad("line break", "CODE\nX"),
            _bad("NUL", "CODE\x00"),
            _bad("lone surrogate", "CODE\ud800"),
            _bad("unknown", "NO-SUCH-CODE", InvalidCoupon),
        ]

    return values


def services(param: str) -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(exclude=("list", "dict")),
            _bad("a bare string", "refunds"),
            _bad("a set of upper-case names", {"REFUNDS"}),
            _bad("unknown service", {"no-such-service"}),
            _bad("a number in the set", [42]),
            _bad("a member of another enum", {CreditMethod.FULL}),
        ]

    return values


def lines_of(kind: type[PartLine] | type[OperationLine]) -> Values:
    """`repairs.create/update(parts=…, operations=…)`: PartLine or OperationLine records."""

    def unknown(_t: Targets) -> list[object]:
        if kind is PartLine:
            return [
                PartLine(
                    action=PartAction.ADD, product_id="product-does-not-exist", quantity=Decimal(1)
                )
            ]
        return [OperationLine(product_id="product-does-not-exist")]

    def wrong_kind(t: Targets) -> list[object]:
        if kind is PartLine:  # a service is an operation, not a part
            return [
                PartLine(action=PartAction.ADD, product_id=t.repair_service_id, quantity=Decimal(1))
            ]
        return [OperationLine(product_id=t.kettle_id)]

    def other_currency(t: Targets) -> list[object]:
        price = Money.of("5.00", "USD")
        if kind is PartLine:
            return [
                PartLine(
                    action=PartAction.ADD,
                    product_id=t.kettle_id,
                    quantity=Decimal(1),
                    unit_price=price,
                )
            ]
        return [OperationLine(product_id=t.repair_service_id, unit_price=price)]

    def values() -> list[Hostile]:
        return [
            *wrong_types(exclude=("list", "None")),
            _bad("None", None),
            _bad("a string", "kettle"),
            _bad("a dict in the list", [{"product_id": "x", "quantity": 1.5}]),
            _bad("a number in the list", [7]),
            _bad("an unknown product", unknown, NotFound),
            _bad("the wrong kind of product", wrong_kind),
            _bad("another currency", other_currency),
        ]

    return values


def a_flag() -> Values:
    def values() -> list[Hostile]:
        return [*wrong_types(exclude=("bool",)), _bad("int 1", 1), _bad("string", "yes")]

    return values


def a_duration() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(),
            _bad("negative", timedelta(minutes=-5)),
            _bad("seconds as int", 300),
        ]

    return values


def a_page_size() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(exclude=("int",)),
            _bad("zero", 0),
            _bad("negative", -1),
            _bad("over the maximum", 501),
        ]

    return values


def a_cursor() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(optional=True),
            _bad("empty", ""),
            _bad("garbage", "not-a-cursor"),
            _bad("over-long", "A" * 3000),
            _bad("NUL", "abc\x00def"),
        ]

    return values


def an_order() -> Values:
    def values() -> list[Hostile]:
        return [*wrong_types(), _bad("a dict", {"currency": "EUR", "lines": []})]

    return values


def a_format() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(),
            _bad("unknown format", "docx"),
            _bad("empty", ""),
            _bad("upper case", "PDF"),
        ]

    return values


def _invoice_import(customer_id: str, product_id: str, external_id: str) -> InvoiceImport:
    return InvoiceImport(
        external_id=external_id,
        customer_id=customer_id,
        number=f"HOST/{external_id}",
        invoice_date=date(2026, 10, 1),
        currency="EUR",
        lines=[
            InvoiceLine(
                description="Kettle",
                quantity=Decimal(1),
                unit_price=Money.of("20.00", "EUR"),
                product_id=product_id,
            )
        ],
        payments=[PaymentImport(amount=Money.of("5.00", "EUR"), paid_at=NOW)],
    )


def _delivery_import(partner_id: str, product_id: str, external_id: str) -> DeliveryImport:
    return DeliveryImport(
        external_id=external_id,
        partner_id=partner_id,
        reference=f"HOST/OUT/{external_id}",
        moves=[MoveImport(product_id=product_id, quantity=Decimal(2))],
        done_at=NOW,
    )


def _program_import(external_id: str) -> ProgramImport:
    return ProgramImport(
        external_id=external_id,
        name="Imported 5%",
        currency="EUR",
        rewards=[Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(5))],
    )


#: A valid import record of each kind for the targets, under an external id.
_IMPORTS: dict[str, Callable[[Targets, str], object]] = {
    "invoices": lambda t, e: _invoice_import(t.other_partner_id, t.kettle_id, e),
    "deliveries": lambda t, e: _delivery_import(t.other_partner_id, t.kettle_id, e),
    "programs": lambda t, e: _program_import(e),
}


def _import_args(kind: str) -> Args:
    def args(_s: Setting, t: Targets) -> dict[str, Any]:
        return {"records": [_IMPORTS[kind](t, "valid-import-1")]}

    return args


def import_records(kind: str) -> Values:
    """`imports.<kind>(records=…)`: lists of import records of one kind, with distinct
    external ids naming customers and products that exist."""
    one = _IMPORTS[kind]
    other = "programs" if kind != "programs" else "invoices"

    def values() -> list[Hostile]:
        found = [
            *wrong_types(exclude=("list",)),
            _bad("a string", "hostile-1"),
            _bad("a dict in the list", [{"external_id": "hostile-1"}]),
            _bad("a record of another kind", lambda t: [_IMPORTS[other](t, "hostile-1")]),
            _bad("one external id twice", lambda t: [one(t, "hostile-1"), one(t, "hostile-1")]),
            _bad("too many", lambda t: [one(t, f"hostile-{n}") for n in range(1001)]),
        ]
        if kind == "invoices":
            found += [
                _bad(
                    "an unknown customer",
                    lambda t: [_invoice_import("partner-unknown", t.kettle_id, "hostile-1")],
                ),
                _bad(
                    "an unknown product",
                    lambda t: [_invoice_import(t.other_partner_id, "product-unknown", "h-1")],
                ),
            ]
        if kind == "deliveries":
            found += [
                _bad(
                    "an unknown partner",
                    lambda t: [_delivery_import("partner-unknown", t.kettle_id, "hostile-1")],
                ),
                _bad(
                    "an unknown product",
                    lambda t: [_delivery_import(t.other_partner_id, "product-unknown", "h-1")],
                ),
            ]
        return found

    return values


def actors(kind: str) -> Values:
    """`actor=…`: not an Actor is [`InvalidInput`][aftersales.errors.InvalidInput]; one without the
    rights is [`AccessDenied`][aftersales.errors.AccessDenied]. `kind` is who may call (see
    `PublicCall`)."""

    def values() -> list[Hostile]:
        found = [
            _bad("None", None),
            _bad("a user id", "agent"),
            _bad("a dict", {"user_id": "agent", "groups": ["helpdesk_manager"]}),
        ]
        if kind == "anyone":
            return found
        found.append(_bad("nobody", Actor(user_id="nobody"), AccessDenied))
        if kind == "portal":
            found.append(_bad("an agent", lambda t: AGENT, AccessDenied))
            found.append(
                _bad(
                    "a portal user without a partner",
                    Actor(user_id="p", groups={Group.PORTAL}),
                    AccessDenied,
                )
            )
        else:
            found.append(_bad("a portal user", lambda t: t.portal, AccessDenied))
        if kind in ("manager", "system"):
            found.append(_bad("an agent", lambda t: AGENT, AccessDenied))
        if kind == "agent":
            found.append(
                _bad(
                    "a helpdesk user without the other group",
                    Actor(user_id="helpdesk-only", groups={Group.HELPDESK_USER}),
                    AccessDenied,
                )
            )
        return found

    return values


def keys() -> Values:
    def values() -> list[Hostile]:
        return [
            *wrong_types(optional=True),
            _bad("empty", ""),
            _bad("blank", "   "),
            _bad("over-long", "k" * 300),
            _bad("NUL", "key\x00"),
            _bad("line break", "key\nX"),
            _bad("lone surrogate", "key\udfff"),
            _bad("bidi isolate", "key\u2066"),
        ]

    return values


AGENT = Actor(
    user_id="agent",
    groups={Group.HELPDESK_USER, Group.BILLING, Group.STOCK_USER, Group.FIELD_SERVICE_USER},
)


# -- the table -------------------------------------------------------------------------------


Args = Callable[[Setting, Targets], dict[str, Any]]


@attrs.frozen(kw_only=True)
class PublicCall:
    """A public call: valid arguments on the standard scenario and hostile values for each
    parameter (`actor` and `idempotency_key` are added by `cases()`).

    `actor` says who may make the call: `agent` (a helpdesk user with the service's
    own group), `helpdesk` (any helpdesk user), `manager`, `system`, `portal` or
    `anyone`. The valid calls are made by the agent unless it is `manager`, `system`
    or `portal`.
    """

    name: str
    args: Args
    params: Mapping[str, Values]
    actor: str = "agent"


def _ticket_args(_s: Setting, t: Targets) -> dict[str, Any]:
    return {"ticket_id": t.ticket.id}


def _repair_args(target: str) -> Args:
    def args(_s: Setting, t: Targets) -> dict[str, Any]:
        return {"repair_id": getattr(t, target)}

    return args


# -- parameters of one kind, the same on every call that takes them -------------------------


def _ticket_ids(*, service: bool = True, portal: bool = False, optional: bool = False) -> Values:
    others: list[Hostile] = []
    if portal:
        others.append(_bad("another customer's ticket", lambda t: t.other_ticket.id, NotFound))
    else:
        others.append(
            _bad("a ticket of a members-only team", lambda t: t.closed_ticket_id, AccessDenied)
        )
        if service:
            others.append(
                _bad(
                    "a ticket of a team without the service",
                    lambda t: t.off_ticket_id,
                    ServiceDisabled,
                )
            )
    return an_id("ticket", optional=optional, others=tuple(others))


def _sale_order_ids() -> Values:
    return an_id(
        "sale-order",
        optional=True,
        others=(_bad("another customer's order", lambda t: t.other_order_id),),
    )


def _fsm_project_ids() -> Values:
    return an_id(
        "project",
        optional=True,
        others=(_bad("a project that is not field service", lambda t: t.plain_project_id),),
    )


def _credit_note_ids() -> Values:
    return an_id(
        "credit-note", others=(_bad("an invoice", lambda t: t.invoice_id, InvalidOperation),)
    )


def _delivery_ids(*, optional: bool = False) -> Values:
    return an_id(
        "delivery",
        optional=optional,
        others=(
            _bad("another customer's delivery", lambda t: t.other_delivery.id),
            _bad("a return", lambda t: t.return_id),
        ),
    )


def _return_ids() -> Values:
    return an_id("return", others=(_bad("a delivery", lambda t: t.delivery.id, InvalidOperation),))


def _notes() -> Values:
    return a_text(max_length=20_000, required=False, multiline=True)


def _team_services() -> dict[str, Values]:
    """`settings.plan` and `settings.configure`: the team and what to turn on or off."""
    return {
        "team_id": an_id("team"),
        "enable": services("enable"),
        "disable": services("disable"),
        "fsm_project_id": _fsm_project_ids(),
    }


def _repair_fields(*, update: bool) -> dict[str, Values]:
    """The fields of `repairs.create` and `repairs.update`; an update cannot clear the
    product or the customer."""
    other_return = _bad("another customer's return", lambda t: t.other_return_id)
    a_delivery = _bad("a delivery", lambda t: t.delivery.id)
    return {
        "product_id": an_id(
            "product",
            optional=not update,
            others=(_bad("a service product", lambda t: t.repair_service_id),),
        ),
        "quantity": a_quantity(),
        "lot": a_text(max_length=64, optional=True),
        "customer_id": an_id("partner", optional=not update),
        "description": _notes(),
        "sale_order_id": _sale_order_ids(),
        "return_id": an_id(
            "return",
            optional=True,
            others=(other_return, a_delivery),
        ),
        "invoice_method": an_enum("after_repair", foreign=CreditMethod.FULL),
        "invoice_address_id": an_id(
            "partner",
            optional=True,
            others=(_bad("another customer", lambda t: t.other_partner_id),),
        ),
        "parts": lines_of(PartLine),
        "operations": lines_of(OperationLine),
        "internal_notes": _notes(),
        "quotation_notes": _notes(),
        "responsible_user_id": an_id("user", optional=True, unknown=None),
        "scheduled_date": a_day(),
        "warranty_expiration": a_day(),
    }


def _on_ticket(
    name: str,
    *,
    actor: str = "agent",
    service: bool = True,
    portal: bool = False,
    optional: bool = False,
) -> PublicCall:
    """A call that takes the ticket only (a read of what is linked to it)."""
    return PublicCall(
        name=name,
        actor=actor,
        args=_ticket_args,
        params={"ticket_id": _ticket_ids(service=service, portal=portal, optional=optional)},
    )


CALLS: tuple[PublicCall, ...] = (
    # -- settings and subscription ---------------------------------------------------------
    PublicCall(
        name="settings.team_settings",
        actor="manager",
        args=lambda s, t: {"team_id": s.scenario.team.id},
        params={
            "team_id": an_id(
                "team",
                others=(_bad("a members-only team", lambda t: t.closed_team_id, AccessDenied),),
            )
        },
    ),
    PublicCall(
        name="settings.plan",
        actor="manager",
        args=lambda s, t: {"team_id": s.scenario.team.id, "enable": {Service.REFUNDS}},
        params=_team_services(),
    ),
    PublicCall(
        name="settings.configure",
        actor="manager",
        args=lambda s, t: {"team_id": s.scenario.team.id, "disable": {Service.COUPONS}},
        params=_team_services(),
    ),
    PublicCall(name="settings.modules", actor="manager", args=lambda s, t: {}, params={}),
    PublicCall(
        name="settings.uninstall",
        actor="manager",
        args=lambda s, t: {"module": "helpdesk_fsm"},
        params={
            "module": lambda: [
                *a_text(max_length=128)(),
                _bad("a module that is not installed", "website_sale", InvalidState),
                _bad("a base module", "base", InvalidOperation),
            ]
        },
    ),
    PublicCall(
        name="subscription.status",
        actor="anyone",
        args=lambda s, t: {},
        params={},
    ),
    PublicCall(
        name="subscription.register_paid",
        actor="system",
        args=lambda s, t: {"reference": "SUB-0001"},
        params={"reference": a_text(max_length=128)},
    ),
    PublicCall(
        name="tickets.find",
        actor="helpdesk",
        args=lambda s, t: {"ref": f"#{t.ticket.ref}"},
        params={
            "ref": lambda: [
                *a_text(max_length=65)(),
                _bad("a bare #", "#"),
                _bad("an unknown number", "#999999", NotFound),
                _bad(
                    "a ticket of a members-only team", lambda t: t.closed_ticket_ref, AccessDenied
                ),
            ]
        },
    ),
    _on_ticket("tickets.view", actor="helpdesk", service=False),
    PublicCall(
        name="tickets.trail_page",
        actor="helpdesk",
        args=_ticket_args,
        params={
            "ticket_id": _ticket_ids(service=False),
            "page_size": a_page_size(),
            "cursor": a_cursor(),
        },
    ),
    PublicCall(
        name="tickets.documents_page",
        actor="helpdesk",
        args=_ticket_args,
        params={
            "ticket_id": _ticket_ids(service=False),
            "kind": an_enum("return", optional=True, foreign=Service.RETURNS),
            "page_size": a_page_size(),
            "cursor": a_cursor(),
        },
    ),
    # -- refunds ------------------------------------------------------------------------------
    PublicCall(
        name="refunds.invoices_to_refund",
        args=_ticket_args,
        params={"ticket_id": _ticket_ids(), "sale_order_id": _sale_order_ids()},
    ),
    PublicCall(
        name="refunds.invoices_to_refund_page",
        args=_ticket_args,
        params={
            "ticket_id": _ticket_ids(),
            "sale_order_id": _sale_order_ids(),
            "page_size": a_page_size(),
            "cursor": a_cursor(),
        },
    ),
    PublicCall(
        name="refunds.credit_methods",
        args=lambda s, t: {"ticket_id": t.ticket.id, "invoice_id": t.invoice_id},
        params={
            "ticket_id": _ticket_ids(),
            "invoice_id": an_id(
                "invoice",
                others=(_bad("a credit note", lambda t: t.credit_note_id, InvalidOperation),),
            ),
        },
    ),
    _on_ticket("refunds.credit_notes"),
    PublicCall(
        name="refunds.invoice",
        args=lambda s, t: {"ticket_id": t.ticket.id, "invoice_id": t.credit_note_id},
        params={
            "ticket_id": _ticket_ids(service=False),
            "invoice_id": an_id(
                "invoice",
                others=(
                    _bad(
                        "a credit note of another ticket",
                        lambda t: t.other_credit_note_id,
                        NotFound,
                    ),
                    _bad("an invoice not linked to the ticket", lambda t: t.invoice_id, NotFound),
                ),
            ),
        },
    ),
    PublicCall(
        name="refunds.reverse",
        args=lambda s, t: {
            "ticket_id": t.ticket.id,
            "invoice_id": t.invoice_id,
            "lines": _credit("1.00"),
        },
        params={
            "ticket_id": _ticket_ids(),
            "invoice_id": an_id(
                "invoice",
                others=(
                    _bad(
                        "another customer's invoice", lambda t: t.other_invoice_id, InvalidOperation
                    ),
                    _bad("a credit note", lambda t: t.credit_note_id, InvalidOperation),
                ),
            ),
            "method": an_enum("full", foreign=InvoiceMethod.NONE),
            "reason": a_text(max_length=512, optional=True),
            "reversal_date": lambda: [
                *a_day()(),
                _bad("before the invoice", date(2000, 1, 1)),
            ],
            "journal": a_text(max_length=64, optional=True),
            "lines": credit_lines(optional=True),
        },
    ),
    PublicCall(
        name="refunds.update_draft",
        args=lambda s, t: {"credit_note_id": t.credit_note_id, "lines": _credit("6.00")},
        params={"credit_note_id": _credit_note_ids(), "lines": credit_lines(optional=False)},
    ),
    *(
        PublicCall(
            name=f"refunds.{name}",
            args=lambda s, t: {"credit_note_id": t.credit_note_id},
            params={"credit_note_id": _credit_note_ids()},
        )
        for name in ("confirm", "cancel")
    ),
    # -- coupons ------------------------------------------------------------------------------
    _on_ticket("coupons.programs", actor="helpdesk"),
    PublicCall(
        name="coupons.generate",
        actor="helpdesk",
        args=lambda s, t: {"ticket_id": t.ticket.id, "program_id": s.scenario.program.id},
        params={
            "ticket_id": _ticket_ids(),
            "program_id": an_id("program"),
            "expires_on": a_day(past=InvalidInput),
        },
    ),
    PublicCall(
        name="coupons.send",
        actor="helpdesk",
        args=lambda s, t: {"ticket_id": t.ticket.id, "coupon_id": t.coupon.id},
        params={
            "ticket_id": _ticket_ids(),
            "coupon_id": an_id(
                "coupon",
                others=(
                    _bad(
                        "a coupon of another customer's ticket",
                        lambda t: t.other_coupon.id,
                        InvalidOperation,
                    ),
                ),
            ),
            "extra_recipients": addresses(),
        },
    ),
    PublicCall(
        name="coupons.evaluate",
        actor="helpdesk",
        args=lambda s, t: {"code": t.coupon.code, "order": _order(s)},
        params={
            "code": a_code(),
            "order": an_order(),
        },
    ),
    PublicCall(
        name="coupons.redeem",
        actor="helpdesk",
        args=lambda s, t: {"code": t.coupon.code},
        params={
            "code": a_code(),
            "order_reference": a_text(max_length=256, required=False),
        },
    ),
    _on_ticket("coupons.coupons", actor="helpdesk", service=False),
    # -- returns ------------------------------------------------------------------------------
    PublicCall(
        name="returns.deliveries",
        args=_ticket_args,
        params={"ticket_id": _ticket_ids(), "sale_order_id": _sale_order_ids()},
    ),
    PublicCall(
        name="returns.deliveries_page",
        args=_ticket_args,
        params={
            "ticket_id": _ticket_ids(),
            "sale_order_id": _sale_order_ids(),
            "page_size": a_page_size(),
            "cursor": a_cursor(),
        },
    ),
    PublicCall(
        name="returns.prepare",
        args=lambda s, t: {"ticket_id": t.ticket.id, "delivery_id": t.delivery.id},
        params={"ticket_id": _ticket_ids(), "delivery_id": _delivery_ids(optional=True)},
    ),
    PublicCall(
        name="returns.create",
        args=lambda s, t: {
            "ticket_id": t.ticket.id,
            "delivery_id": t.delivery.id,
            "quantities": {t.move_id: Decimal(1)},
        },
        params={
            "ticket_id": _ticket_ids(),
            "delivery_id": _delivery_ids(),
            "quantities": quantities(),
            "return_location": a_text(optional=True),
        },
    ),
    *(
        PublicCall(
            name=f"returns.{name}",
            args=lambda s, t: {"return_id": t.return_id},
            params={"return_id": _return_ids()},
        )
        for name in ("validate", "cancel")
    ),
    _on_ticket("returns.returns", service=False),
    PublicCall(
        name="returns.picking",
        args=lambda s, t: {"ticket_id": t.ticket.id, "return_id": t.return_id},
        params={
            "ticket_id": _ticket_ids(service=False),
            "return_id": an_id(
                "return",
                others=(
                    _bad("a return of another ticket", lambda t: t.other_return_id, NotFound),
                    _bad("a delivery", lambda t: t.delivery.id, NotFound),
                ),
            ),
        },
    ),
    # -- repairs ------------------------------------------------------------------------------
    PublicCall(
        name="repairs.create",
        args=_ticket_args,
        params={"ticket_id": _ticket_ids(), **_repair_fields(update=False)},
    ),
    PublicCall(
        name="repairs.update",
        args=lambda s, t: {"repair_id": t.repair_draft.id, "description": "Noisy"},
        params={"repair_id": an_id("repair"), **_repair_fields(update=True)},
    ),
    *(
        PublicCall(
            name=f"repairs.{name}",
            args=_repair_args(target),
            params={"repair_id": an_id("repair")},
        )
        for name, target in (
            ("confirm", "repair_draft_id"),
            ("start", "repair_confirmed"),
            ("end", "repair_under_repair"),
            ("create_invoice", "repair_to_invoice"),
            ("cancel", "repair_confirmed"),
            ("reset_to_draft", "repair_cancelled"),
            ("delete", "repair_draft_id"),
        )
    ),
    _on_ticket("repairs.repairs", actor="helpdesk", service=False),
    PublicCall(
        name="repairs.repair",
        actor="helpdesk",
        args=lambda s, t: {"ticket_id": t.ticket.id, "repair_id": t.repair_draft.id},
        params={
            "ticket_id": _ticket_ids(service=False),
            "repair_id": an_id(
                "repair",
                others=(_bad("a repair of another ticket", lambda t: t.other_repair_id, NotFound),),
            ),
        },
    ),
    PublicCall(
        name="repairs.quotation",
        actor="helpdesk",
        args=lambda s, t: {"repair_id": t.repair_draft.id, "format": "text"},
        params={"repair_id": an_id("repair"), "format": a_format()},
    ),
    PublicCall(
        name="repairs.quotation_data",
        actor="helpdesk",
        args=_repair_args("repair_draft_id"),
        params={"repair_id": an_id("repair")},
    ),
    # -- field service ------------------------------------------------------------------------
    *(
        PublicCall(
            name=f"field_service.{name}",
            args=_ticket_args,
            params={
                "ticket_id": _ticket_ids(),
                "title": a_text(optional=True),
                "project_id": _fsm_project_ids(),
                "planned_at": a_moment(),
                "assignee_id": an_id("user", optional=True, unknown=None),
            },
        )
        for name in ("create_task", "create_and_view_task")
    ),
    PublicCall(
        name="field_service.set_stage",
        args=lambda s, t: {"task_id": t.task.id, "stage": TaskStage.PLANNED},
        params={
            "task_id": an_id("task"),
            "stage": an_enum("planned", foreign=Service.REFUNDS),
        },
    ),
    PublicCall(
        name="field_service.mark_done",
        args=lambda s, t: {"task_id": t.task.id},
        params={"task_id": an_id("task")},
    ),
    _on_ticket("field_service.tasks", actor="helpdesk", service=False),
    PublicCall(
        name="field_service.task",
        actor="helpdesk",
        args=lambda s, t: {"ticket_id": t.ticket.id, "task_id": t.task.id},
        params={
            "ticket_id": _ticket_ids(service=False),
            "task_id": an_id(
                "task",
                others=(_bad("a task of another ticket", lambda t: t.other_task_id, NotFound),),
            ),
        },
    ),
    _on_ticket("field_service.portal_tasks", actor="portal", portal=True, optional=True),
    PublicCall(
        name="field_service.portal_task",
        actor="portal",
        args=lambda s, t: {"task_id": t.task.id},
        params={
            "task_id": an_id(
                "task",
                others=(_bad("a task of another customer", lambda t: t.other_task_id, NotFound),),
            )
        },
    ),
    # -- outbox -------------------------------------------------------------------------------
    PublicCall(
        name="outbox.emails",
        actor="manager",
        args=lambda s, t: {"pending_only": True},
        params={
            "pending_only": a_flag(),
            "state": an_enum("dead", optional=True, foreign=Service.REFUNDS),
        },
    ),
    PublicCall(
        name="outbox.email",
        actor="manager",
        args=lambda s, t: {"email_id": t.sent_email_id},
        params={"email_id": an_id("email")},
    ),
    PublicCall(
        name="outbox.requeue",
        actor="manager",
        args=lambda s, t: {"email_id": t.dead_email_id},
        params={
            "email_id": an_id(
                "email",
                others=(_bad("a sent email", lambda t: t.sent_email_id, InvalidState),),
            )
        },
    ),
    PublicCall(
        name="outbox.retry",
        actor="manager",
        args=lambda s, t: {},
        params={"stale_after": a_duration()},
    ),
    # -- idempotency keys ---------------------------------------------------------------------
    PublicCall(
        name="idempotency.purge",
        actor="system",
        args=lambda s, t: {"older_than": timedelta(days=30)},
        params={"older_than": a_duration()},
    ),
    # -- imports ------------------------------------------------------------------------------
    *(
        PublicCall(
            name=f"imports.{kind}",
            actor="system",
            args=_import_args(kind),
            params={"records": import_records(kind)},
        )
        for kind in ("invoices", "deliveries", "programs")
    ),
)


def _order(s: Setting) -> Order:
    return Order.of(OrderLine.of(s.scenario.blender, 1))


def call_named(name: str) -> PublicCall:
    for call in CALLS:
        if call.name == name:
            return call
    raise KeyError(f"no public call {name!r} in the hostile-input table")


def public_calls(app: Any) -> dict[str, tuple[str, ...]]:
    """Every public service call of `app` with its parameters."""
    found: dict[str, tuple[str, ...]] = {}
    for attribute in SERVICES:
        service = getattr(app, attribute)
        for name, method in inspect.getmembers(service, inspect.ismethod):
            full = f"{attribute}.{name}"
            if name.startswith("_"):
                continue
            found[full] = tuple(inspect.signature(method).parameters)
    return found


# -- cases and the check -----------------------------------------------------------------------


@attrs.frozen
class Case:
    """One hostile value for one parameter of one call."""

    call: PublicCall
    param: str
    hostile: Hostile

    @property
    def id(self) -> str:
        return f"{self.call.name}:{self.param}:{self.hostile.label}"


def _actor_of(s: Setting, t: Targets, kind: str) -> Actor:
    return {
        "agent": s.agent,
        "helpdesk": s.agent,
        "anyone": s.agent,
        "manager": s.manager,
        "system": s.system,
        "portal": t.portal,
    }[kind]


def cases(call: PublicCall, *, takes_key: bool) -> Iterator[Case]:
    """Every hostile case of `call`: its parameters, then `actor` and (when the call
    takes one) `idempotency_key`."""
    for param, values in call.params.items():
        for hostile in values():
            yield Case(call, param, hostile)
    for hostile in actors(call.actor)():
        yield Case(call, "actor", hostile)
    if takes_key:
        for hostile in keys()():
            yield Case(call, "idempotency_key", hostile)


def invoke(s: Setting, t: Targets, call: PublicCall, **override: Any) -> object:
    """Make `call` with its valid arguments, some of them replaced by `override`."""
    service, name = call.name.split(".")
    arguments = {**call.args(s, t), "actor": _actor_of(s, t, call.actor), **override}
    method: Callable[..., object] = getattr(getattr(s.app, service), name)
    return method(**arguments)


def check_case(s: Setting, t: Targets, case: Case) -> str | None:
    """Make the call of `case` with its hostile value; return what went wrong, if anything.

    Right means: the expected exception (or a subclass), an
    [`InvalidInput`][aftersales.errors.InvalidInput] naming the parameter (`field`), a message that
    is not empty, and nothing changed or let out.
    """
    return _check(s, t, case, s.snapshot())[0]


def check_cases(s: Setting, t: Targets, found: Iterable[Case]) -> list[str]:
    """`check_case()` for each of `found` in turn; what went wrong, one line a case.

    The store is read once between two cases: the snapshot after one case is the one
    before the next (nothing else runs in between), which halves the reads of a sweep.
    """
    problems: list[str] = []
    before = s.snapshot()
    for case in found:
        problem, before = _check(s, t, case, before)
        if problem:
            problems.append(f"{case.param} = {case.hostile.label}: {problem}")
    return problems


def _check(
    s: Setting, t: Targets, case: Case, before: dict[str, dict[Any, Any]]
) -> tuple[str | None, dict[str, dict[Any, Any]]]:
    hostile = case.hostile
    value = hostile.resolve(t)
    s.witness.clear()
    outcome: str | None = None
    try:
        invoke(s, t, case.call, **{case.param: value})
    except hostile.expected as refusal:
        outcome = _judge(case, value, refusal)
    except Exception as exc:  # the point: anything else is a finding
        outcome = (
            f"raised {type(exc).__module__}.{type(exc).__name__}: {exc} "
            f"(expected {hostile.expected.__name__})"
        )
    else:
        outcome = f"was accepted (expected {hostile.expected.__name__})"
    after = s.snapshot()
    if after != before:
        changed = diff(before, after).replace("\n", "; ")
        outcome = f"{outcome or 'refused'}, and the store changed: {changed}"
    elif not s.witness.quiet:
        outcome = f"{outcome or 'refused'}, and let out {s.witness.seen()}"
    return outcome, after


#: What a Python repr looks like in a message: `Decimal('-1')`, `datetime.date(...)`,
#: `Money(...)`, `<object object at 0x...>`.
REPR_IN_MESSAGE = re.compile(
    r"Decimal\(|datetime\.|Money\(|Quantity\(|<[A-Za-z_][\w.]* (object|at)\b|\bat 0x[0-9a-f]+"
)


def repr_in(message: str) -> str | None:
    """The first Python repr found in `message`, if any."""
    found = REPR_IN_MESSAGE.search(message)
    return found.group(0) if found else None


def _judge(case: Case, value: object, refusal: Exception) -> str | None:
    if not str(refusal).strip():
        return f"raised {type(refusal).__name__} with an empty message"
    shown = repr_in(str(refusal))
    if shown is not None:
        return f"raised {type(refusal).__name__} with a Python repr ({shown}) in: {refusal}"
    if isinstance(refusal, AfterSalesError):
        try:
            json.dumps(refusal.to_dict())
        except (TypeError, ValueError) as exc:
            return f"raised {type(refusal).__name__} whose to_dict() is not JSON: {exc}"
    if isinstance(refusal, NotFound) and isinstance(value, str) and refusal.id != value:
        return f"raised NotFound naming {refusal.id!r}, not the id given ({value!r})"
    if isinstance(refusal, InvalidInput):
        wanted = case.hostile.field or case.param
        if not refusal.field.startswith(wanted):
            return f"raised InvalidInput naming field {refusal.field!r}, not {wanted!r}: {refusal}"
    return None
