"""Explicit row ↔ record functions, one pair per record type.

Every column is named here, both ways; nothing is built with `Model(**row)`. A field added
to a record needs a column (a new schema version, see `schema`) and one line in each
function of its pair; the round-trip test of every record type catches a forgotten one.
Value lists stored as JSON go through `aftersales.serialization.converter`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    CouponRule,
    CouponUse,
    CreditMethod,
    DocumentKind,
    DocumentLink,
    EmailState,
    FieldServiceTask,
    IdempotencyRecord,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceMethod,
    InvoiceState,
    Match,
    MatchKind,
    Money,
    MoveState,
    OutgoingEmail,
    Partner,
    Payment,
    PaymentState,
    Picking,
    PickingKind,
    PickingState,
    Product,
    ProductKind,
    ProgramTrigger,
    ProgramType,
    Project,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairState,
    Reward,
    SaleOrder,
    Service,
    StockMove,
    Subscription,
    SubscriptionState,
    TaskStage,
    Tax,
    Team,
    TeamConfig,
    Ticket,
    TicketMessage,
)
from aftersales.serialization import converter

__all__ = ["Row", "RowData"]

#: A row to write: column name → value.
Row = dict[str, Any]
#: A row read back (a SQLAlchemy `RowMapping` or any mapping of column names).
RowData = Mapping[Any, Any]
T = TypeVar("T")


def _plain(value: object) -> Any:
    return converter.unstructure(value)


def _load(data: Any, kind: Any) -> Any:
    return converter.structure(data, kind)


def _optional(kind: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else kind(value)


def _money(row: RowData, prefix: str) -> Money:
    return Money(amount=row[f"{prefix}_amount"], currency=row[f"{prefix}_currency"])


def _money_cols(prefix: str, money: Money) -> Row:
    return {f"{prefix}_amount": money.amount, f"{prefix}_currency": money.currency}


def _taxes(data: Any) -> tuple[Tax, ...]:
    taxes: tuple[Tax, ...] = _load(data, tuple[Tax, ...])
    return taxes


# -- idempotency, subscription -------------------------------------------------------------


def idempotency_row(r: IdempotencyRecord) -> Row:
    return {
        "actor_id": r.actor_id,
        "key": r.key,
        "operation": r.operation,
        "fingerprint": r.fingerprint,
        "result": r.result,
        "created_at": r.created_at,
    }


def idempotency(row: RowData) -> IdempotencyRecord:
    return IdempotencyRecord(
        actor_id=row["actor_id"],
        key=row["key"],
        operation=row["operation"],
        fingerprint=row["fingerprint"],
        result=row["result"],
        created_at=row["created_at"],
    )


def subscription_row(s: Subscription) -> Row:
    return {
        "name": "database",
        "state": s.state.value,
        "trial_started_at": s.trial_started_at,
        "trial_ends_at": s.trial_ends_at,
        "paid_reference": s.paid_reference,
        "changed_at": s.changed_at,
    }


def subscription(row: RowData) -> Subscription:
    return Subscription(
        state=SubscriptionState(row["state"]),
        trial_started_at=row["trial_started_at"],
        trial_ends_at=row["trial_ends_at"],
        paid_reference=row["paid_reference"],
        changed_at=row["changed_at"],
    )


# -- helpdesk ------------------------------------------------------------------------------


def partner_row(p: Partner) -> Row:
    return {
        "id": p.id,
        "name": p.name,
        "commercial_entity_id": p.commercial_entity_id,
        "email": p.email,
        "is_company": p.is_company,
        "delivery_address_id": p.delivery_address_id,
    }


def partner(row: RowData) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        commercial_entity_id=row["commercial_entity_id"],
        email=row["email"],
        is_company=bool(row["is_company"]),
        delivery_address_id=row["delivery_address_id"],
    )


def product_row(p: Product) -> Row:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind.value,
        **_money_cols("price", p.price),
        "taxes": _plain(p.taxes),
        "uom": p.uom,
        "uom_digits": p.uom_digits,
        "category": p.category,
    }


def product(row: RowData) -> Product:
    return Product(
        id=row["id"],
        name=row["name"],
        kind=ProductKind(row["kind"]),
        price=_money(row, "price"),
        taxes=_taxes(row["taxes"]),
        uom=row["uom"],
        uom_digits=row["uom_digits"],
        category=row["category"],
    )


def sale_order_row(o: SaleOrder) -> Row:
    return {"id": o.id, "name": o.name, "customer_id": o.customer_id, "ordered_at": o.ordered_at}


def sale_order(row: RowData) -> SaleOrder:
    return SaleOrder(
        id=row["id"], name=row["name"], customer_id=row["customer_id"], ordered_at=row["ordered_at"]
    )


def team_row(t: Team) -> Row:
    """The host's team only: its after-sales settings are a `team_config_row()`."""
    return {
        "id": t.id,
        "name": t.name,
        "member_ids": sorted(t.member_ids),
        "members_only": t.members_only,
    }


def team(row: RowData) -> Team:
    return Team(
        id=row["id"],
        name=row["name"],
        member_ids=frozenset(row["member_ids"]),
        members_only=bool(row["members_only"]),
    )


def team_config_row(c: TeamConfig) -> Row:
    return {
        "team_id": c.team_id,
        "services": sorted(s.value for s in c.services),
        "fsm_project_id": c.fsm_project_id,
    }


def team_config(row: RowData) -> TeamConfig:
    return TeamConfig(
        team_id=row["team_id"],
        services=frozenset(Service(s) for s in row["services"]),
        fsm_project_id=row["fsm_project_id"],
    )


def ticket_row(t: Ticket) -> Row:
    return {
        "id": t.id,
        "ref": t.ref,
        "title": t.title,
        "team_id": t.team_id,
        "created_at": t.created_at,
        "customer_id": t.customer_id,
        "product_id": t.product_id,
        "sale_order_id": t.sale_order_id,
        "description": t.description,
        "follower_ids": list(t.follower_ids),
    }


def ticket(row: RowData) -> Ticket:
    return Ticket(
        id=row["id"],
        ref=row["ref"],
        title=row["title"],
        team_id=row["team_id"],
        created_at=row["created_at"],
        customer_id=row["customer_id"],
        product_id=row["product_id"],
        sale_order_id=row["sale_order_id"],
        description=row["description"],
        follower_ids=tuple(row["follower_ids"]),
    )


def link_row(link: DocumentLink) -> Row:
    return {
        "ticket_id": link.ticket_id,
        "kind": link.kind.value,
        "document_id": link.document_id,
        "created_at": link.created_at,
    }


def link(row: RowData) -> DocumentLink:
    return DocumentLink(
        ticket_id=row["ticket_id"],
        kind=DocumentKind(row["kind"]),
        document_id=row["document_id"],
        created_at=row["created_at"],
    )


def message_row(m: TicketMessage) -> Row:
    return {
        "id": m.id,
        "ticket_id": m.ticket_id,
        "at": m.at,
        "author_id": m.author_id,
        "body": m.body,
        "document_kind": m.document_kind.value if m.document_kind else None,
        "document_id": m.document_id,
    }


def message(row: RowData) -> TicketMessage:
    kind = row["document_kind"]
    return TicketMessage(
        id=row["id"],
        ticket_id=row["ticket_id"],
        at=row["at"],
        author_id=row["author_id"],
        body=row["body"],
        document_kind=DocumentKind(kind) if kind is not None else None,
        document_id=row["document_id"],
    )


# -- accounting ----------------------------------------------------------------------------


def invoice_row(i: Invoice) -> Row:
    return {
        "id": i.id,
        "kind": i.kind.value,
        "customer_id": i.customer_id,
        "currency": i.currency,
        "state": i.state.value,
        "created_at": i.created_at,
        "payment_state": i.payment_state.value,
        **_money_cols("residual", i.residual),
        "number": i.number,
        "invoice_date": i.invoice_date,
        "post_on": i.post_on,
        "sale_order_id": i.sale_order_id,
        "reversed_invoice_id": i.reversed_invoice_id,
        "credit_method": i.credit_method.value if i.credit_method is not None else None,
        "ticket_id": i.ticket_id,
        "reference": i.reference,
        "reason": i.reason,
        "journal": i.journal,
        "note": i.note,
        "operation_ref": i.operation_ref,
    }


def invoice_line_rows(i: Invoice) -> list[Row]:
    return [
        {
            "invoice_id": i.id,
            "position": position,
            "description": line.description,
            "quantity": line.quantity,
            **_money_cols("unit_price", line.unit_price),
            "taxes": _plain(line.taxes),
            "product_id": line.product_id,
        }
        for position, line in enumerate(i.lines)
    ]


def invoice_line(row: RowData) -> InvoiceLine:
    return InvoiceLine(
        description=row["description"],
        quantity=row["quantity"],
        unit_price=_money(row, "unit_price"),
        taxes=_taxes(row["taxes"]),
        product_id=row["product_id"],
    )


def invoice(row: RowData, lines: Sequence[RowData]) -> Invoice:
    return Invoice(
        id=row["id"],
        kind=InvoiceKind(row["kind"]),
        customer_id=row["customer_id"],
        currency=row["currency"],
        lines=tuple(invoice_line(line) for line in lines),
        state=InvoiceState(row["state"]),
        created_at=row["created_at"],
        payment_state=PaymentState(row["payment_state"]),
        residual=_money(row, "residual"),
        number=row["number"],
        invoice_date=row["invoice_date"],
        post_on=row["post_on"],
        sale_order_id=row["sale_order_id"],
        reversed_invoice_id=row["reversed_invoice_id"],
        credit_method=_optional(CreditMethod, row["credit_method"]),
        ticket_id=row["ticket_id"],
        reference=row["reference"],
        reason=row["reason"],
        journal=row["journal"],
        note=row["note"],
        operation_ref=row["operation_ref"],
    )


def payment_row(p: Payment) -> Row:
    return {
        "id": p.id,
        "customer_id": p.customer_id,
        **_money_cols("amount", p.amount),
        "paid_at": p.paid_at,
        "reference": p.reference,
    }


def payment(row: RowData) -> Payment:
    return Payment(
        id=row["id"],
        customer_id=row["customer_id"],
        amount=_money(row, "amount"),
        paid_at=row["paid_at"],
        reference=row["reference"],
    )


def match_row(m: Match) -> Row:
    return {
        "id": m.id,
        "invoice_id": m.invoice_id,
        "kind": m.kind.value,
        "counterpart_id": m.counterpart_id,
        **_money_cols("amount", m.amount),
        "created_at": m.created_at,
    }


def match(row: RowData) -> Match:
    return Match(
        id=row["id"],
        invoice_id=row["invoice_id"],
        kind=MatchKind(row["kind"]),
        counterpart_id=row["counterpart_id"],
        amount=_money(row, "amount"),
        created_at=row["created_at"],
    )


# -- loyalty -------------------------------------------------------------------------------


def program_row(p: CouponProgram) -> Row:
    return {
        "id": p.id,
        "name": p.name,
        "currency": p.currency,
        "rewards": _plain(p.rewards),
        "rules": _plain(p.rules),
        "active": p.active,
        "program_type": p.program_type.value,
        "trigger": p.trigger.value,
        "date_to": p.date_to,
        "max_usage": p.max_usage,
        "code": p.code,
    }


def program(row: RowData) -> CouponProgram:
    return CouponProgram(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        rewards=_load(row["rewards"], tuple[Reward, ...]),
        rules=_load(row["rules"], tuple[CouponRule, ...]),
        active=bool(row["active"]),
        program_type=ProgramType(row["program_type"]),
        trigger=ProgramTrigger(row["trigger"]),
        date_to=row["date_to"],
        max_usage=row["max_usage"],
        code=row["code"],
    )


def coupon_row(c: Coupon) -> Row:
    return {
        "id": c.id,
        "code": c.code,
        "program_id": c.program_id,
        "partner_id": c.partner_id,
        "points": c.points,
        "created_at": c.created_at,
        "expires_on": c.expires_on,
        "ticket_id": c.ticket_id,
    }


def coupon(row: RowData) -> Coupon:
    return Coupon(
        id=row["id"],
        code=row["code"],
        program_id=row["program_id"],
        partner_id=row["partner_id"],
        points=row["points"],
        created_at=row["created_at"],
        expires_on=row["expires_on"],
        ticket_id=row["ticket_id"],
    )


def coupon_use_row(u: CouponUse) -> Row:
    return {
        "id": u.id,
        "coupon_id": u.coupon_id,
        "program_id": u.program_id,
        "points": u.points,
        "used_at": u.used_at,
        "order_reference": u.order_reference,
    }


def coupon_use(row: RowData) -> CouponUse:
    return CouponUse(
        id=row["id"],
        coupon_id=row["coupon_id"],
        program_id=row["program_id"],
        points=row["points"],
        used_at=row["used_at"],
        order_reference=row["order_reference"],
    )


# -- stock ---------------------------------------------------------------------------------


def picking_row(p: Picking) -> Row:
    return {
        "id": p.id,
        "kind": p.kind.value,
        "reference": p.reference,
        "partner_id": p.partner_id,
        "source_location": p.source_location,
        "destination_location": p.destination_location,
        "state": p.state.value,
        "created_at": p.created_at,
        "done_at": p.done_at,
        "origin": p.origin,
        "sale_order_id": p.sale_order_id,
        "return_of_id": p.return_of_id,
        "ticket_id": p.ticket_id,
    }


def move_rows(p: Picking) -> list[Row]:
    return [
        {
            "picking_id": p.id,
            "position": position,
            "id": m.id,
            "product_id": m.product_id,
            "quantity": m.quantity,
            "state": m.state.value,
            "origin_move_id": m.origin_move_id,
            "scrapped": m.scrapped,
        }
        for position, m in enumerate(p.moves)
    ]


def move(row: RowData) -> StockMove:
    return StockMove(
        id=row["id"],
        product_id=row["product_id"],
        quantity=row["quantity"],
        state=MoveState(row["state"]),
        origin_move_id=row["origin_move_id"],
        scrapped=bool(row["scrapped"]),
    )


def picking(row: RowData, moves: Sequence[RowData]) -> Picking:
    return Picking(
        id=row["id"],
        kind=PickingKind(row["kind"]),
        reference=row["reference"],
        partner_id=row["partner_id"],
        source_location=row["source_location"],
        destination_location=row["destination_location"],
        state=PickingState(row["state"]),
        moves=tuple(move(m) for m in moves),
        created_at=row["created_at"],
        done_at=row["done_at"],
        origin=row["origin"],
        sale_order_id=row["sale_order_id"],
        return_of_id=row["return_of_id"],
        ticket_id=row["ticket_id"],
    )


# -- repair --------------------------------------------------------------------------------


def repair_row(r: RepairOrder) -> Row:
    return {
        "id": r.id,
        "reference": r.reference,
        "product_id": r.product_id,
        "customer_id": r.customer_id,
        "currency": r.currency,
        "created_at": r.created_at,
        "state": r.state.value,
        "quantity": r.quantity,
        "lot": r.lot,
        "ticket_id": r.ticket_id,
        "description": r.description,
        "sale_order_id": r.sale_order_id,
        "return_id": r.return_id,
        "invoice_method": r.invoice_method.value,
        "invoice_address_id": r.invoice_address_id,
        "parts": _plain(r.parts),
        "operations": _plain(r.operations),
        "internal_notes": r.internal_notes,
        "quotation_notes": r.quotation_notes,
        "responsible_user_id": r.responsible_user_id,
        "scheduled_date": r.scheduled_date,
        "warranty_expiration": r.warranty_expiration,
        "invoice_id": r.invoice_id,
    }


def repair(row: RowData) -> RepairOrder:
    return RepairOrder(
        id=row["id"],
        reference=row["reference"],
        product_id=row["product_id"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        created_at=row["created_at"],
        state=RepairState(row["state"]),
        quantity=row["quantity"],
        lot=row["lot"],
        ticket_id=row["ticket_id"],
        description=row["description"],
        sale_order_id=row["sale_order_id"],
        return_id=row["return_id"],
        invoice_method=InvoiceMethod(row["invoice_method"]),
        invoice_address_id=row["invoice_address_id"],
        parts=_load(row["parts"], tuple[RepairPart, ...]),
        operations=_load(row["operations"], tuple[RepairOperation, ...]),
        internal_notes=row["internal_notes"],
        quotation_notes=row["quotation_notes"],
        responsible_user_id=row["responsible_user_id"],
        scheduled_date=row["scheduled_date"],
        warranty_expiration=row["warranty_expiration"],
        invoice_id=row["invoice_id"],
    )


# -- project -------------------------------------------------------------------------------


def project_row(p: Project) -> Row:
    return {"id": p.id, "name": p.name, "is_fsm": p.is_fsm, "portal_visible": p.portal_visible}


def project(row: RowData) -> Project:
    return Project(
        id=row["id"],
        name=row["name"],
        is_fsm=bool(row["is_fsm"]),
        portal_visible=bool(row["portal_visible"]),
    )


def task_row(t: FieldServiceTask) -> Row:
    return {
        "id": t.id,
        "project_id": t.project_id,
        "title": t.title,
        "customer_id": t.customer_id,
        "created_at": t.created_at,
        "stage": t.stage.value,
        "description": t.description,
        "ticket_id": t.ticket_id,
        "planned_at": t.planned_at,
        "assignee_id": t.assignee_id,
        "internal_notes": t.internal_notes,
    }


def task(row: RowData) -> FieldServiceTask:
    return FieldServiceTask(
        id=row["id"],
        project_id=row["project_id"],
        title=row["title"],
        customer_id=row["customer_id"],
        created_at=row["created_at"],
        stage=TaskStage(row["stage"]),
        description=row["description"],
        ticket_id=row["ticket_id"],
        planned_at=row["planned_at"],
        assignee_id=row["assignee_id"],
        internal_notes=row["internal_notes"],
    )


# -- mail ----------------------------------------------------------------------------------


def email_row(e: OutgoingEmail) -> Row:
    return {
        "id": e.id,
        "recipients": list(e.recipients),
        "subject": e.subject,
        "text_body": e.text_body,
        "html_body": e.html_body,
        "created_at": e.created_at,
        "ticket_id": e.ticket_id,
        "state": e.state.value,
        "attempts": e.attempts,
        "last_error": e.last_error,
        "sent_at": e.sent_at,
        "accepted": list(e.accepted),
        "refused": list(e.refused),
        "claim": e.claim,
        "lease_until": e.lease_until,
    }


def email(row: RowData) -> OutgoingEmail:
    return OutgoingEmail(
        id=row["id"],
        recipients=tuple(row["recipients"]),
        subject=row["subject"],
        text_body=row["text_body"],
        html_body=row["html_body"],
        created_at=row["created_at"],
        ticket_id=row["ticket_id"],
        state=EmailState(row["state"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
        accepted=tuple(row["accepted"] or ()),
        refused=tuple(row["refused"] or ()),
        claim=row["claim"],
        lease_until=row["lease_until"],
    )


def delivered_row(e: OutgoingEmail) -> Row:
    return {"id": e.id, "email": _plain(e)}


def delivered(row: RowData) -> OutgoingEmail:
    sent: OutgoingEmail = _load(row["email"], OutgoingEmail)
    return sent


# -- audit ---------------------------------------------------------------------------------


def audit_row(e: AuditEntry) -> Row:
    return {
        "id": e.id,
        "at": e.at,
        "actor_id": e.actor_id,
        "action": e.action,
        "ticket_id": e.ticket_id,
        "document_ids": list(e.document_ids),
        "idempotency_key": e.idempotency_key,
        "detail": e.detail,
    }


def audit(row: RowData) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor_id=row["actor_id"],
        action=row["action"],
        ticket_id=row["ticket_id"],
        document_ids=tuple(row["document_ids"]),
        idempotency_key=row["idempotency_key"],
        detail=row["detail"],
    )
