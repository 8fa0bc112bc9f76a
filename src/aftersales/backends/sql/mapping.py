"""Row ↔ record functions, derived once from one table map and one converter.

`TABLES` names the table of every stored record type, `CHILDREN` the child tables (invoice
lines, stock moves) and `OMITTED` the fields a table leaves to another one. A private cattrs
converter turns a record into its row and back; what differs between the two is said once,
as a hook: `Money` is an `<field>_amount` and an `<field>_currency` column, enums are their
values, value lists of records are JSON made by `aftersales.serialization.converter`,
frozensets are sorted lists; decimals, dates and timezone-aware datetimes are left to the
column types (see `types`). Every column is a field of the same name, so a field added to a
record needs only a column (a new schema version, see `schema`); the test of the table map
names a field that no column stores.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    CouponUse,
    DocumentLink,
    FieldServiceTask,
    IdempotencyRecord,
    Invoice,
    InvoiceLine,
    Match,
    Money,
    OutgoingEmail,
    Partner,
    Payment,
    Picking,
    Product,
    Project,
    RepairOrder,
    SaleOrder,
    StockMove,
    Subscription,
    Team,
    TeamConfig,
    Ticket,
    TicketMessage,
)
from aftersales.serialization import converter

__all__ = ["CHILDREN", "OMITTED", "TABLES", "Row", "RowData", "money_fields"]

#: A row to write: column name → value.
Row = dict[str, Any]
#: A row read back (a SQLAlchemy `RowMapping` or any mapping of column names).
RowData = Mapping[Any, Any]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: The table of every record type stored as rows (`OutgoingEmail` also has `mail_delivered`,
#: a JSON copy per sent email).
TABLES: dict[type[Any], str] = {
    IdempotencyRecord: "idempotency_keys",
    Subscription: "subscription",
    Partner: "partners",
    Product: "products",
    SaleOrder: "sale_orders",
    Team: "teams",
    TeamConfig: "team_settings",
    Ticket: "tickets",
    DocumentLink: "links",
    TicketMessage: "messages",
    Invoice: "invoices",
    InvoiceLine: "invoice_lines",
    Payment: "payments",
    Match: "matches",
    CouponProgram: "programs",
    Coupon: "coupons",
    CouponUse: "coupon_uses",
    Picking: "pickings",
    StockMove: "stock_moves",
    RepairOrder: "repairs",
    Project: "projects",
    FieldServiceTask: "tasks",
    OutgoingEmail: "outbox",
    AuditEntry: "audit",
}
#: A field stored in a child table: (record type, field) → (item type, parent key column).
#: A child row also has a `position` column, the item's index in the field.
CHILDREN: dict[tuple[type[Any], str], tuple[type[Any], str]] = {
    (Invoice, "lines"): (InvoiceLine, "invoice_id"),
    (Picking, "moves"): (StockMove, "picking_id"),
}
#: Fields a record's table does not store: the team's after-sales settings are a
#: `TeamConfig` row of `team_settings`.
OMITTED: dict[type[Any], frozenset[str]] = {Team: frozenset({"services", "fsm_project_id"})}
#: Columns with a fixed value: the one subscription row is named "database".
_FIXED: dict[type[Any], Row] = {Subscription: {"name": "database"}}
#: Fields read with a hook of their own: emails written before their delivery reports
#: existed have NULL `accepted` / `refused`.
_NULLABLE_LISTS: dict[type[Any], frozenset[str]] = {
    OutgoingEmail: frozenset({"accepted", "refused"})
}

# The column types (`types.Exact`, `types.Moment`, `sa.Date`, …) convert these themselves.
_AS_IS: frozenset[Any] = frozenset({str, int, Decimal, datetime, date, Any})


def _as_is(value: Any, _kind: Any) -> Any:
    return value


def _origin(kind: Any) -> Any:
    return get_origin(kind)


def _tuple_or_empty(value: Any, _kind: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _optional_of(kind: Any) -> Any:
    """`X` of `X | None`, else None."""
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(get_args(kind)) == 2:
            return args[0]
    return None


def _is_record_list(kind: Any) -> bool:
    args = get_args(kind)
    return _origin(kind) is tuple and bool(args) and attrs.has(args[0])


def _make() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    # Exactly these types: an enum that is also a `str` is stored as its value.
    conv.register_unstructure_hook_func(lambda t: t in _AS_IS, identity)
    conv.register_structure_hook_func(lambda t: t in _AS_IS, _as_is)
    # X | None: the value itself, or X's hook; no per-value dispatch on the hot path.
    conv.register_unstructure_hook_factory(
        lambda t: _optional_of(t) is not None, lambda t: _unstructure_optional(conv, t)
    )
    conv.register_structure_hook_factory(
        lambda t: _optional_of(t) is not None, lambda t: _structure_optional(conv, t)
    )
    conv.register_unstructure_hook_factory(
        lambda t: _origin(t) is tuple, lambda t: _unstructure_list(conv, t)
    )
    conv.register_unstructure_hook_factory(
        lambda t: _origin(t) is frozenset, lambda t: _unstructure_set(conv, t)
    )
    # Registered last, so it wins over the lists above.
    # Value lists of records (taxes, rewards, rules, repair parts, …): the library's JSON.
    conv.register_unstructure_hook_func(_is_record_list, converter.unstructure)
    conv.register_structure_hook_func(_is_record_list, converter.structure)
    return conv


def _unstructure_optional(conv: cattrs.Converter, kind: Any) -> Callable[[Any], Any]:
    inner = conv.get_unstructure_hook(_optional_of(kind))
    if inner is identity:
        return identity
    return lambda value: None if value is None else inner(value)


def _structure_optional(conv: cattrs.Converter, kind: Any) -> Callable[[Any, Any], Any]:
    item = _optional_of(kind)
    inner = conv.get_structure_hook(item)
    if inner is _as_is:
        return _as_is
    return lambda value, _kind: None if value is None else inner(value, item)


def _unstructure_list(conv: cattrs.Converter, kind: Any) -> Callable[[Any], Any]:
    inner = conv.get_unstructure_hook(get_args(kind)[0])
    if inner is identity:
        return list
    return lambda values: [inner(v) for v in values]


def _unstructure_set(conv: cattrs.Converter, kind: Any) -> Callable[[Any], Any]:
    inner = conv.get_unstructure_hook(get_args(kind)[0])
    return lambda values: sorted(inner(v) for v in values)


_rows = _make()


def money_fields(kind: type[Any]) -> tuple[str, ...]:
    """The fields of `kind` holding a `Money` (each is two columns)."""
    return tuple(f.name for f in attrs.fields(attrs.resolve_types(kind)) if f.type is Money)


def _to_row(kind: type[T]) -> Callable[[T], Row]:
    """The row of a `kind` record, made by one generated function."""
    skip = set(money_fields(kind)) | OMITTED.get(kind, frozenset())
    skip |= {name for owner, name in CHILDREN if owner is kind}
    omit: dict[str, Any] = {name: override(omit=True) for name in skip}
    plain = make_dict_unstructure_fn(kind, _rows, **omit)
    money = money_fields(kind)
    fixed = _FIXED.get(kind)
    if not money and not fixed:
        return plain

    def to_row(record: T) -> Row:
        row = plain(record)
        for name in money:
            value: Money = getattr(record, name)
            row[f"{name}_amount"] = value.amount
            row[f"{name}_currency"] = value.currency
        if fixed:
            row.update(fixed)
        return row

    return to_row


def _given(kind: type[Any]) -> tuple[str, ...]:
    """The fields of `kind` that `_from_row` builds itself: its money and child fields."""
    return (*money_fields(kind), *(name for owner, name in CHILDREN if owner is kind))


def _structure_fn(kind: type[T]) -> Callable[[RowData, Any], T]:
    """The generated function reading a `kind` row (extra columns, such as `seq`, are
    ignored); the fields of `_given(kind)` must already be records."""
    hooks: dict[str, Any] = {
        name: override(struct_hook=_tuple_or_empty)
        for name in _NULLABLE_LISTS.get(kind, frozenset())
    }
    hooks.update({name: override(struct_hook=_as_is) for name in _given(kind)})
    return make_dict_structure_fn(kind, _rows, _cattrs_forbid_extra_keys=False, **hooks)


class _Load(Protocol[T_co]):
    def __call__(self, row: RowData, rows: Sequence[RowData] = ()) -> T_co: ...


def _from_row(kind: type[T]) -> _Load[T]:
    """The `kind` record of a row and of its child rows (if `kind` has a child table)."""
    plain = _structure_fn(kind)
    money = money_fields(kind)
    children = [(name, _one(CHILDREN[owner, name][0])) for owner, name in CHILDREN if owner is kind]

    def from_row(row: RowData, rows: Sequence[RowData] = ()) -> T:
        data = dict(row)  # the statements' rows are dicts: a cheap copy
        for name in money:
            data[name] = Money(amount=row[f"{name}_amount"], currency=row[f"{name}_currency"])
        for name, item in children:
            data[name] = tuple(item(child) for child in rows)
        return plain(data, kind)

    return from_row


def _one(kind: type[T]) -> Callable[[RowData], T]:
    """The `kind` record of a row (of a table without children)."""
    if _given(kind):
        return _from_row(kind)  # its child rows default to none
    plain = _structure_fn(kind)

    def from_row(row: RowData) -> T:
        return plain(row, kind)

    return from_row


def _child_rows(kind: type[T], field: str) -> Callable[[T], list[Row]]:
    item, parent = CHILDREN[kind, field]
    item_row = _to_row(item)

    def child_rows(record: Any) -> list[Row]:
        key = record.id
        return [
            {parent: key, "position": position, **item_row(value)}
            for position, value in enumerate(getattr(record, field))
        ]

    return child_rows


# -- the functions the backend calls: generated once, at import ------------------------------

idempotency_row, idempotency = _to_row(IdempotencyRecord), _one(IdempotencyRecord)
subscription_row, subscription = _to_row(Subscription), _one(Subscription)
partner_row, partner = _to_row(Partner), _one(Partner)
product_row, product = _to_row(Product), _one(Product)
sale_order_row, sale_order = _to_row(SaleOrder), _one(SaleOrder)
#: The host's team only: its after-sales settings are a `team_config_row()`.
team_row, team = _to_row(Team), _one(Team)
team_config_row, team_config = _to_row(TeamConfig), _one(TeamConfig)
ticket_row, ticket = _to_row(Ticket), _one(Ticket)
link_row, link = _to_row(DocumentLink), _one(DocumentLink)
message_row, message = _to_row(TicketMessage), _one(TicketMessage)
invoice_row, invoice = _to_row(Invoice), _from_row(Invoice)
invoice_line_rows, invoice_line = _child_rows(Invoice, "lines"), _one(InvoiceLine)
payment_row, payment = _to_row(Payment), _one(Payment)
match_row, match = _to_row(Match), _one(Match)
program_row, program = _to_row(CouponProgram), _one(CouponProgram)
coupon_row, coupon = _to_row(Coupon), _one(Coupon)
coupon_use_row, coupon_use = _to_row(CouponUse), _one(CouponUse)
picking_row, picking = _to_row(Picking), _from_row(Picking)
move_rows, move = _child_rows(Picking, "moves"), _one(StockMove)
repair_row, repair = _to_row(RepairOrder), _one(RepairOrder)
project_row, project = _to_row(Project), _one(Project)
task_row, task = _to_row(FieldServiceTask), _one(FieldServiceTask)
email_row, email = _to_row(OutgoingEmail), _one(OutgoingEmail)
audit_row, audit = _to_row(AuditEntry), _one(AuditEntry)


def delivered_row(e: OutgoingEmail) -> Row:
    """A sent email as one JSON copy (`mail_delivered`)."""
    return {"id": e.id, "email": converter.unstructure(e)}


def delivered(row: RowData) -> OutgoingEmail:
    sent: OutgoingEmail = converter.structure(row["email"], OutgoingEmail)
    return sent
