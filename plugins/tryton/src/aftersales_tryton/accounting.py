"""The accounting port served by Tryton: invoices and credit notes as Tryton keeps them.

[`TrytonAccounting`][aftersales_tryton.accounting.TrytonAccounting] implements the
``aftersales_accounting_*`` hooks over a proteus configuration. Every document is Tryton's:
its id (``str`` of the Tryton id), its number (Tryton's sequence, at posting), its amounts.

How the library's invoice fields are kept on Tryton's ``account.invoice``:

* `id`, `number`, `invoice_date`, `currency`, `customer_id`: Tryton's `id`, `number`,
  `invoice_date`, `currency.code`, `party.id` (ids as strings);
* `kind`: a customer document whose total is negative is a credit note (Tryton's test);
* `operation_ref`: `reference` (the credit wizard takes none: written right after it);
* `reference` (the human one, `Reversal of: …`): `description`;
* `ticket_id`, `credit_method`, `reason`, `post_on`: ``after-sales <key>: <value>`` lines
  in `comment` (the rest of the comment is `note`);
* `reversed_invoice_id`: the invoice of the lines the credit note's lines credit (`origin`);
* lines: `lines` of type `line` (a credit note's quantities are negative in Tryton);
* `residual`, `payment_state`: Tryton's `amount_to_pay`, less what the posted credit notes
  it has not reconciled still owe.

Tryton does not cap credits (it credits 5 units of a 3-unit line): the refund service does,
from `credited`, which is read here from the live credit notes whose lines credit the
invoice's lines. Each Tryton call commits on its own: there is no unit of work to roll back
at the ERP (see docs/tryton.md).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from proteus import Model, Wizard

from aftersales.errors import BackendError, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    CreditMethod,
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    PaymentState,
    Refundable,
    Reversal,
    ReversalResult,
)
from aftersales.models.products import Tax
from aftersales.models.queries import InvoiceQuery, paged
from aftersales_tryton._values import decimal, record_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated
from aftersales_tryton.userwarnings import call_acknowledging, warning_name

__all__ = ["TrytonAccounting"]

INVOICE = "account.invoice"
LINE = "account.invoice.line"
_META = "after-sales "
_FULL = frozenset({CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE})
#: The Tryton warnings a posting made for a helpdesk accepts (a credit note dated later
#: than Tryton's today is what a scheduled reversal is; the taxes of a line are the
#: helpdesk's, not always the product's defaults).
_ACCEPTED_WARNINGS = ("invoice_date_future", "invoice_taxes")
#: What an invoice is read with (Tryton reads the related records' fields in the same call).
_LINE_FIELDS = ("type", "description", "product", "product.name", "quantity", "unit_price")
_INVOICE_FIELDS = (
    "currency.code",
    "total_amount",
    "comment",
    "state",
    "number",
    "amount_to_pay",
    "party",
    "create_date",
    "invoice_date",
    "description",
    "reference",
    *(f"lines.{name}" for name in _LINE_FIELDS),
    "lines.origin",
    "lines.taxes.name",
    "lines.taxes.rate",
)
#: What a credit note counted against its invoice is read with.
_NOTE_FIELDS = ("state", "amount_to_pay", "total_amount", "lines.origin")


def _tryton_id(value: str) -> int | None:
    """The Tryton id in a library id, or None when it cannot be one of Tryton's."""
    if not isinstance(value, str) or not value.isdigit() or value.startswith("0"):
        return None
    return int(value)


def _meta(comment: str | None) -> tuple[dict[str, str], str]:
    found: dict[str, str] = {}
    rest: list[str] = []
    for line in (comment or "").splitlines():
        if line.startswith(_META) and ": " in line:
            key, value = line[len(_META) :].split(": ", 1)
            found[key] = value
        else:
            rest.append(line)
    return found, "\n".join(rest)


def _comment(meta: dict[str, str | None], note: str = "") -> str:
    lines = [f"{_META}{key}: {value}" for key, value in meta.items() if value]
    if note:
        lines.append(note)
    return "\n".join(lines)


def _aware(value: dt.datetime | None) -> dt.datetime:
    when = value or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


class TrytonAccounting:
    """The accounting port (``aftersales_accounting_*``) over the proteus `config`.

    `lock=True` is not held: Tryton commits every call on its own, so the caps are the
    library's (a claim in the after-sales store).
    """

    config: Config

    # -- reading Tryton's records -----------------------------------------------------------

    def _find(self, domain: list[Any], order: Sequence[tuple[str, str]] = ()) -> list[Any]:
        with translated("read invoices"):
            return list(
                Model.get(INVOICE, config=self.config).find(
                    [("type", "=", "out"), *domain], order=list(order) or [("id", "ASC")]
                )
            )

    def _rows(
        self,
        domain: list[Any],
        order: Sequence[tuple[str, str]] = (),
        fields: Sequence[str] = _INVOICE_FIELDS,
    ) -> list[dict[str, Any]]:
        """The customer documents matching `domain` as Tryton reads them, in one call
        (``search_read``, the related records' fields included)."""
        proxy = Model.get(INVOICE, config=self.config)._proxy
        with translated("read invoices"):
            rows: list[dict[str, Any]] = proxy.search_read(
                [("type", "=", "out"), *domain],
                0,
                None,
                list(order) or [("id", "ASC")],
                list(fields),
                self.config.context,
            )
        return rows

    def _record(self, invoice_id: str) -> Any | None:
        tryton_id = _tryton_id(invoice_id)
        if tryton_id is None:
            return None
        found = self._find([("id", "=", tryton_id)])
        return found[0] if found else None

    def _row(self, invoice_id: str) -> dict[str, Any] | None:
        tryton_id = _tryton_id(invoice_id)
        if tryton_id is None:
            return None
        found = self._rows([("id", "=", tryton_id)])
        return found[0] if found else None

    @staticmethod
    def _lines(row: dict[str, Any], currency: str, sign: int) -> tuple[InvoiceLine, ...]:
        return tuple(
            InvoiceLine(
                description=str(line["description"] or (line["product."] or {}).get("name") or ""),
                quantity=decimal(line["quantity"]) * sign,
                unit_price=Money(amount=decimal(line["unit_price"]), currency=currency),
                taxes=tuple(
                    Tax(name=str(tax["name"]), percent=decimal(tax["rate"]) * 100)
                    for tax in line["taxes."]
                ),
                product_id=None if line["product"] is None else str(line["product"]),
            )
            for line in row["lines."]
            if line["type"] == "line"
        )

    @functools.cached_property
    def _line_invoices(self) -> dict[int, int]:
        """The invoice of each invoice line read so far (a line never changes invoice)."""
        return {}

    def _credited_invoice(self, row: dict[str, Any]) -> str | None:
        origins = [o for o in map(_origin_key, row["lines."]) if o is not None]
        if not origins:
            return None
        line_id = int(origins[0].split(",")[1])
        if line_id not in self._line_invoices:
            proxy = Model.get(LINE, config=self.config)._proxy
            with translated("read invoice lines"):
                (line,) = proxy.read([line_id], ["invoice"], self.config.context)
            self._line_invoices[line_id] = int(line["invoice"])
        return str(self._line_invoices[line_id])

    def _notes_of(self, rows: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        """The credit notes (any state) crediting each of `rows`, by Tryton id."""
        owner = {f"{LINE},{line['id']}": row["id"] for row in rows for line in row["lines."]}
        found: dict[int, list[dict[str, Any]]] = {}
        if not owner:
            return found
        for note in self._rows([("lines.origin", "in", sorted(owner))], fields=_NOTE_FIELDS):
            owners = {owner[o] for o in map(_origin_key, note["lines."]) if o in owner}
            for invoice_id in owners:
                found.setdefault(invoice_id, []).append(note)
        return found

    def _invoice(
        self, row: dict[str, Any], notes: Sequence[dict[str, Any]] | None = None
    ) -> Invoice:
        currency = str(row["currency."]["code"])
        total = decimal(row["total_amount"])
        is_note = total < 0
        meta, note_text = _meta(row["comment"])
        state = str(row["state"])
        number = row["number"] or None
        if notes is None and not is_note and state != "draft":
            notes = self._notes_of([row]).get(row["id"], [])
        posted_notes = [n for n in notes or () if n["state"] in ("posted", "paid")]
        amount = abs(total)
        if state == "cancelled" and number and posted_notes:
            # Tryton cancels an invoice it refunds in full (with_refund): for the helpdesk
            # it is a posted invoice reversed by its credit note.
            library_state, residual, paid = InvoiceState.POSTED, Decimal(0), PaymentState.REVERSED
        elif state == "cancelled":
            library_state, residual, paid = InvoiceState.CANCELLED, Decimal(0), None
        elif state == "draft" or state == "validated":
            library_state, residual, paid = InvoiceState.DRAFT, Decimal(0), None
        else:
            library_state = InvoiceState.POSTED
            to_pay = abs(decimal(row["amount_to_pay"]))
            open_notes = sum(
                (abs(decimal(n["amount_to_pay"])) for n in posted_notes if n["state"] == "posted"),
                Decimal(0),
            )
            residual = max(Decimal(0), to_pay - open_notes) if not is_note else to_pay
            if residual == amount:
                paid = PaymentState.NOT_PAID
            elif residual > 0:
                paid = PaymentState.PARTIAL
            elif posted_notes and not is_note:
                paid = PaymentState.REVERSED
            else:
                paid = PaymentState.PAID
        post_on = meta.get("post_on")
        method = meta.get("method")
        return Invoice(
            id=str(row["id"]),
            kind=InvoiceKind.CREDIT_NOTE if is_note else InvoiceKind.INVOICE,
            customer_id=str(row["party"]),
            currency=currency,
            lines=self._lines(row, currency, -1 if is_note else 1),
            state=library_state,
            created_at=_aware(row["create_date"]),
            payment_state=paid or PaymentState.NOT_PAID,
            residual=Money(amount=residual, currency=currency),
            number=number,
            invoice_date=row["invoice_date"],
            post_on=dt.date.fromisoformat(post_on) if post_on else None,
            reversed_invoice_id=self._credited_invoice(row) if is_note else None,
            credit_method=CreditMethod(method) if method else None,
            ticket_id=meta.get("ticket"),
            reference=str(row["description"] or ""),
            reason=meta.get("reason", ""),
            note=note_text,
            operation_ref=row["reference"] or None,
        )

    def _read(self, invoice_id: int) -> Invoice:
        (row,) = self._rows([("id", "=", invoice_id)])
        return self._invoice(row)

    def _refundable(self, row: dict[str, Any], notes: Sequence[dict[str, Any]]) -> Refundable:
        invoice = self._invoice(row, notes)
        credited = sum(
            (abs(decimal(n["total_amount"])) for n in notes if n["state"] != "cancelled"),
            Decimal(0),
        )
        return Refundable(
            invoice=invoice, credited=Money(amount=credited, currency=invoice.currency)
        )

    # -- writing ----------------------------------------------------------------------------

    def _taxes(self, taxes: Iterable[Tax]) -> list[Any]:
        tax_model = Model.get("account.tax", config=self.config)
        found = []
        for tax in taxes:
            if tax.price_include:
                raise InvalidInput(
                    "taxes", tax.name, "Tryton has no taxes included in the unit price"
                )
            rate = tax.percent / 100
            same = tax_model.find([("type", "=", "percentage"), ("rate", "=", rate)], limit=1)
            if same:
                found.append(same[0])
                continue
            (model,) = tax_model.find([("type", "=", "percentage")], limit=1)
            (copy,) = model.duplicate(default={"name": tax.name, "description": tax.name})
            copy.rate = rate
            copy.save()
            found.append(copy)
        return found

    def _post(self, record: Any) -> None:
        accepted = [
            warning_name(kind, [(INVOICE, record_id(record))]) for kind in _ACCEPTED_WARNINGS
        ]
        call_acknowledging(
            self.config,
            lambda: record.click("post"),
            operation=f"post invoice {record_id(record)}",
            accepted=accepted,
        )

    def _keep_lines(self, note: Any, lines: Sequence[InvoiceLine] | None) -> None:
        """Keep on the draft credit note `note` the lines `lines` asks for, with their
        quantities (each matched with the invoice line it credits)."""
        if lines is None:
            return
        wanted = list(lines)
        with translated(f"change credit note {record_id(note)}"):
            for line in list(note.lines):
                if line.type != "line":
                    continue
                origin = line.origin
                key = (
                    str(line.description or ""),
                    None if line.product is None else str(record_id(line.product)),
                    decimal(line.unit_price),
                )
                match = next(
                    (
                        w
                        for w in wanted
                        if (w.description, w.product_id, w.unit_price.amount) == key
                        or (
                            origin is not None
                            and w.description == str(origin.description or "")
                            and (w.product_id, w.unit_price.amount) == key[1:]
                        )
                    ),
                    None,
                )
                if match is None:
                    note.lines.remove(line)
                else:
                    wanted.remove(match)
                    line.quantity = -match.quantity
            if wanted:
                raise BackendError(
                    f"credit note {record_id(note)}: no line of the invoice for "
                    + ", ".join(w.description for w in wanted)
                )
            note.save()

    def _reinvoice(
        self, record: Any, number: str, ticket_id: str | None, reference: str
    ) -> Invoice:
        with translated(f"copy invoice {record_id(record)}"):
            (copy,) = record.duplicate(
                default={
                    "reference": reference,
                    "description": f"Replaces {number}",
                    "comment": _comment({"ticket": ticket_id}),
                }
            )
        return self._read(record_id(copy))

    # -- the port ---------------------------------------------------------------------------

    @hookimpl
    def aftersales_accounting_get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        row = self._row(invoice_id)
        return None if row is None else self._invoice(row)

    @hookimpl
    def aftersales_accounting_get_refundable(
        self, invoice_id: str, lock: bool
    ) -> Refundable | None:
        row = self._row(invoice_id)
        if row is None:
            return None
        return self._refundable(row, self._notes_of([row]).get(row["id"], []))

    @hookimpl
    def aftersales_accounting_refundable_invoices(self, query: InvoiceQuery) -> list[Refundable]:
        parties = sorted(p for p in map(_tryton_id, query.customer_ids) if p is not None)
        if not parties:
            return []
        domain: list[Any] = [("party", "in", parties), ("state", "in", ["posted", "paid"])]
        if query.product_id is not None:
            product = _tryton_id(query.product_id)
            if product is None:
                return []
            domain.append(("lines.product", "=", product))
        if query.sale_order_id is not None:
            return []  # sale orders are not wired to Tryton's sales yet
        found = [
            r
            for r in self._rows(
                domain,
                order=[
                    ("invoice_date", "DESC NULLS LAST"),
                    ("create_date", "DESC"),
                    ("id", "DESC"),
                ],
            )
            if decimal(r["total_amount"]) >= 0
        ]
        notes = self._notes_of(found)
        refundable = [self._refundable(r, notes.get(r["id"], [])) for r in found]
        if query.after is None and query.limit is None:
            return refundable
        # Tryton's search pages by offset, not by key: the page is cut here, in the same order
        by_id = {item.invoice.id: item for item in refundable}
        return [by_id[inv.id] for inv in paged((item.invoice for item in refundable), query)]

    @hookimpl
    def aftersales_accounting_reverse_invoice(self, reversal: Reversal) -> ReversalResult | None:
        row = self._row(reversal.invoice_id)
        if row is None:
            return None
        before = self._invoice(row)
        record = Model.get(INVOICE, config=self.config)(row["id"])
        refund = reversal.post and reversal.method in _FULL and reversal.lines is None
        with translated(f"credit invoice {record_id(record)}"):
            wizard = Wizard("account.invoice.credit", [record], config=self.config)
            if refund and not wizard.form.with_refund_allowed:
                raise BackendError(
                    f"Tryton allows no refund of invoice {before.number}: it has payments"
                )
            wizard.form.with_refund = refund
            wizard.form.invoice_date = reversal.reversal_date
            wizard.execute("credit")
            ((note,),) = wizard.actions
            note.reference = reversal.reference
            note.description = f"Reversal of: {before.number or before.id}, {reversal.reason}"
            note.comment = _comment(
                {
                    "ticket": reversal.ticket_id,
                    "method": reversal.method.value,
                    "reason": reversal.reason,
                    "post_on": None
                    if reversal.post or reversal.post_on is None
                    else str(reversal.post_on),
                }
            )
            note.save()
        if not refund:
            self._keep_lines(note, reversal.lines)
            if reversal.post:
                self._post(note)
        new_invoice = None
        if reversal.method is CreditMethod.FULL_AND_REINVOICE:
            new_invoice = self._reinvoice(
                record, before.number or before.id, reversal.ticket_id, reversal.reference
            )
        credit_note = self._read(record_id(note))
        zero = Money.zero(before.currency)
        if not reversal.post:
            return ReversalResult(
                credit_note=credit_note,
                new_invoice=new_invoice,
                invoice=before,
                customer_credit=zero,
                released=zero,
            )
        after = self._read(record_id(record))
        return ReversalResult(
            credit_note=credit_note,
            new_invoice=new_invoice,
            invoice=after,
            customer_credit=credit_note.residual,
            released=zero,
        )

    def _draft_note(self, credit_note_id: str) -> tuple[dict[str, Any], Any] | None:
        """The draft credit note as read, and as a proteus record to write."""
        row = self._row(credit_note_id)
        if row is None:
            return None
        if decimal(row["total_amount"]) >= 0 or row["state"] != "draft":
            raise BackendError(f"{row['number'] or credit_note_id} is not a draft credit note")
        return row, Model.get(INVOICE, config=self.config)(row["id"])

    @hookimpl
    def aftersales_accounting_update_credit_note(
        self, credit_note_id: str, lines: Sequence[InvoiceLine], reference: str
    ) -> Invoice | None:
        draft = self._draft_note(credit_note_id)
        if draft is None:
            return None
        row, note = draft
        invoice = self._credited_invoice(row)
        assert invoice is not None  # a draft credit note credits lines of an invoice
        # Lines removed before are put back from the invoice, then the wanted ones kept.
        with translated(f"change credit note {credit_note_id}"):
            kept = {_origin_key(line) for line in note.lines}
            source = self._record(invoice)
            for line in source.lines if source is not None else ():
                if f"{LINE},{record_id(line)}" not in kept and line.type == "line":
                    new = note.lines.new()
                    new.product = line.product
                    new.description = line.description
                    new.quantity = -line.quantity
                    new.unit_price = line.unit_price
                    new.account = line.account
                    new.origin = line
                    for tax in line.taxes:
                        new.taxes.append(tax)
            note.reference = reference
            note.save()
        self._keep_lines(note, lines)
        return self._read(record_id(note))

    @hookimpl
    def aftersales_accounting_post_credit_note(
        self, credit_note_id: str, at: dt.datetime, reference: str
    ) -> ReversalResult | None:
        draft = self._draft_note(credit_note_id)
        if draft is None:
            return None
        row, note = draft
        meta, text = _meta(row["comment"])
        meta.pop("post_on", None)
        with translated(f"post credit note {credit_note_id}"):
            note.reference = reference
            note.comment = _comment(dict(meta), text)
            note.save()
        self._post(note)
        credit_note = self._read(record_id(note))
        invoice_id = credit_note.reversed_invoice_id
        assert invoice_id is not None
        invoice = self.aftersales_accounting_get_invoice(invoice_id, True)
        assert invoice is not None
        return ReversalResult(
            credit_note=credit_note,
            invoice=invoice,
            customer_credit=Money.zero(invoice.currency),
            released=Money.zero(invoice.currency),
        )

    @hookimpl
    def aftersales_accounting_cancel_credit_note(
        self, credit_note_id: str, reference: str
    ) -> Invoice | None:
        draft = self._draft_note(credit_note_id)
        if draft is None:
            return None
        _row, note = draft
        with translated(f"cancel credit note {credit_note_id}"):
            note.reference = reference
            note.save()
            note.click("cancel")
        return self._read(record_id(note))

    @hookimpl
    def aftersales_accounting_create_invoice(self, draft: InvoiceDraft, reference: str) -> Invoice:
        party = _tryton_id(draft.customer_id)
        if party is None:
            raise InvalidInput("customer_id", draft.customer_id, "not a Tryton party id")
        with translated("create a customer invoice"):
            invoice = Model.get(INVOICE, config=self.config)(type="out")
            invoice.party = Model.get("party.party", config=self.config)(party)
            invoice.reference = reference
            invoice.description = draft.reference or None
            invoice.comment = _comment({"ticket": draft.ticket_id}, draft.note)
            for spec in draft.lines:
                line = invoice.lines.new()
                if spec.product_id is not None:
                    product = _tryton_id(spec.product_id)
                    if product is None:
                        raise InvalidInput("product_id", spec.product_id, "not a Tryton product id")
                    line.product = Model.get("product.product", config=self.config)(product)
                line.description = spec.description
                line.quantity = spec.quantity
                line.unit_price = spec.unit_price.amount
                while line.taxes:
                    line.taxes.pop()
                for tax in self._taxes(spec.taxes):
                    line.taxes.append(tax)
            invoice.save()
        return self._read(record_id(invoice))

    @hookimpl
    def aftersales_accounting_cancel_invoice(
        self, invoice_id: str, reference: str
    ) -> Invoice | None:
        record = self._record(invoice_id)
        if record is None:
            return None
        if record.state not in ("draft", "validated"):
            raise BackendError(
                f"invoice {record.number or invoice_id} is {record.state}; "
                "only a draft invoice can be cancelled"
            )
        with translated(f"cancel invoice {invoice_id}"):
            record.reference = reference
            record.save()
            record.click("cancel")
        return self._read(record_id(record))

    @hookimpl
    def aftersales_accounting_find_by_reference(self, reference: str) -> list[Invoice]:
        return [self._invoice(r) for r in self._rows([("reference", "=", reference)])]


def _origin_key(line: Any) -> str | None:
    """The invoice line a line credits, as Tryton's reference (``"account.invoice.line,7"``),
    from a proteus line or a line as read."""
    if isinstance(line, dict):
        origin = line["origin"]
        return origin if isinstance(origin, str) and origin.startswith(f"{LINE},") else None
    origin = line.origin
    if origin is None or origin.__class__.__name__ != LINE:
        return None
    return f"{LINE},{record_id(origin)}"
