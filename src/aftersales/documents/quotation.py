"""The repair quotation: what the customer is shown of a repair order (RP-6).

`Quotation` is the document's content, built from a repair order by
`build_quotation()`. It carries the parts, the operations, the totals with tax and the
**quotation notes**; it has no field for the internal repair notes at all, so no renderer can
print them by mistake. `render_html()` and `render_text()` are the built-in renderers;
the PDF renderer lives in `aftersales.documents.pdf` (optional extra `pdf`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal

import attrs

from aftersales.models import (
    InvoiceMethod,
    LineAmounts,
    Money,
    PartAction,
    Partner,
    Product,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairState,
)
from aftersales.models.products import compute_line

__all__ = [
    "OPERATION_COLUMNS",
    "PART_COLUMNS",
    "Quotation",
    "QuotationLine",
    "QuotationRenderer",
    "build_quotation",
    "header_fields",
    "operation_rows",
    "part_rows",
    "render_html",
    "render_text",
    "total_rows",
]

#: A renderer turns a quotation into a document: text (`str`) or binary (`bytes`).
QuotationRenderer = Callable[["Quotation"], str | bytes]

_INVOICING = {
    InvoiceMethod.NONE: "No invoice",
    InvoiceMethod.BEFORE_REPAIR: "Invoiced before the repair",
    InvoiceMethod.AFTER_REPAIR: "Invoiced after the repair",
}


@attrs.frozen(kw_only=True)
class QuotationLine:
    """One part or operation as printed, with its amounts.

    `action` is set on parts (ADD or REMOVE) and `None` on operations. A removed part is
    listed but not charged (`charged` is false and its amounts are zero): only added parts
    and operations are invoiced (RP-9), and the totals say exactly what will be invoiced.
    """

    product_id: str
    description: str
    quantity: Decimal
    uom: str
    unit_price: Money
    taxes: tuple[str, ...]
    amounts: LineAmounts
    charged: bool = True
    action: PartAction | None = None
    lot: str | None = None


@attrs.frozen(kw_only=True)
class Quotation:
    """The content of a repair quotation (RP-6). Never holds the internal notes."""

    reference: str
    state: RepairState
    issued_on: date
    currency: str
    customer_name: str
    product_name: str
    quantity: Decimal
    uom: str
    invoice_method: InvoiceMethod
    parts: tuple[QuotationLine, ...]
    operations: tuple[QuotationLine, ...]
    totals: LineAmounts
    notes: str = ""
    description: str = ""
    lot: str | None = None
    invoice_address_name: str | None = None
    ticket_ref: str | None = None
    scheduled_date: date | None = None
    warranty_expiration: date | None = None

    @property
    def title(self) -> str:
        """`Repair quotation` while the order is a draft, `Repair order` afterwards."""
        kind = "Repair quotation" if self.state is RepairState.DRAFT else "Repair order"
        return f"{kind} {self.reference}"

    @property
    def invoicing(self) -> str:
        """The invoice method, in words."""
        return _INVOICING[self.invoice_method]


def _part_line(part: RepairPart, product: Product) -> QuotationLine:
    charged = part.action is PartAction.ADD
    amounts = (
        compute_line(part.quantity, part.unit_price, part.taxes)
        if charged
        else LineAmounts.zero(part.unit_price.currency)
    )
    return QuotationLine(
        product_id=part.product_id,
        description=product.name,
        quantity=part.quantity,
        uom=product.uom,
        unit_price=part.unit_price,
        taxes=tuple(t.name for t in part.taxes),
        amounts=amounts,
        charged=charged,
        action=part.action,
        lot=part.lot,
    )


def _operation_line(operation: RepairOperation, product: Product) -> QuotationLine:
    return QuotationLine(
        product_id=operation.product_id,
        description=operation.description or product.name,
        quantity=operation.quantity,
        uom=product.uom,
        unit_price=operation.unit_price,
        taxes=tuple(t.name for t in operation.taxes),
        amounts=compute_line(operation.quantity, operation.unit_price, operation.taxes),
    )


def build_quotation(
    repair: RepairOrder,
    *,
    products: Mapping[str, Product],
    customer: Partner,
    issued_on: date,
    invoice_address: Partner | None = None,
    ticket_ref: str | None = None,
) -> Quotation:
    """The quotation of `repair`; `products` holds every product the order names.

    Totals are the sums of the per-line rounded amounts of the added parts and the
    operations (G-8): the same lines, and so the same amounts, as the repair's invoice.
    """
    parts = tuple(_part_line(p, products[p.product_id]) for p in repair.parts)
    operations = tuple(_operation_line(o, products[o.product_id]) for o in repair.operations)
    totals = LineAmounts.zero(repair.currency)
    for line in (*parts, *operations):
        totals = totals + line.amounts
    product = products[repair.product_id]
    return Quotation(
        reference=repair.reference,
        state=repair.state,
        issued_on=issued_on,
        currency=repair.currency,
        customer_name=customer.name,
        invoice_address_name=(
            invoice_address.name
            if invoice_address is not None and invoice_address.id != customer.id
            else None
        ),
        ticket_ref=ticket_ref,
        product_name=product.name,
        quantity=repair.quantity,
        uom=product.uom,
        lot=repair.lot,
        description=repair.description,
        invoice_method=repair.invoice_method,
        scheduled_date=repair.scheduled_date,
        warranty_expiration=repair.warranty_expiration,
        parts=parts,
        operations=operations,
        totals=totals,
        notes=repair.quotation_notes,
    )


# -- shared formatting: the building blocks of every renderer, also for your own ------------


def _qty(quantity: Decimal, uom: str) -> str:
    return f"{quantity:f} {uom}"


def _taxes(line: QuotationLine) -> str:
    return ", ".join(line.taxes) if line.charged and line.taxes else "-"


def _label(line: QuotationLine) -> str:
    text = line.description
    if line.lot:
        text += f" (lot {line.lot})"
    return text


def _action(line: QuotationLine) -> str:
    return "Remove" if line.action is PartAction.REMOVE else "Add"


def _amount(line: QuotationLine) -> str:
    return str(line.amounts.untaxed) if line.charged else "not charged"


def _price(line: QuotationLine) -> str:
    return str(line.unit_price) if line.charged else "-"


def header_fields(quotation: Quotation) -> list[tuple[str, str]]:
    """The labelled facts printed above the lines, in order (shared by every renderer)."""
    q = quotation
    rows: list[tuple[str, str]] = [("Date", q.issued_on.isoformat()), ("Customer", q.customer_name)]
    if q.invoice_address_name:
        rows.append(("Invoice address", q.invoice_address_name))
    if q.ticket_ref:
        rows.append(("Ticket", f"#{q.ticket_ref}"))
    product = f"{q.product_name}, {_qty(q.quantity, q.uom)}"
    if q.lot:
        product += f" (lot/serial {q.lot})"
    rows.append(("Product to repair", product))
    rows.append(("Invoicing", q.invoicing))
    if q.scheduled_date:
        rows.append(("Scheduled", q.scheduled_date.isoformat()))
    if q.warranty_expiration:
        rows.append(("Warranty until", q.warranty_expiration.isoformat()))
    return rows


PART_COLUMNS = ("Action", "Part", "Quantity", "Unit price", "Taxes", "Amount")
OPERATION_COLUMNS = ("Operation", "Quantity", "Unit price", "Taxes", "Amount")


def part_rows(quotation: Quotation) -> list[tuple[str, ...]]:
    """The parts table (see `PART_COLUMNS`)."""
    return [
        (_action(p), _label(p), _qty(p.quantity, p.uom), _price(p), _taxes(p), _amount(p))
        for p in quotation.parts
    ]


def operation_rows(quotation: Quotation) -> list[tuple[str, ...]]:
    """The operations table (see `OPERATION_COLUMNS`)."""
    return [
        (_label(o), _qty(o.quantity, o.uom), _price(o), _taxes(o), _amount(o))
        for o in quotation.operations
    ]


def total_rows(quotation: Quotation) -> list[tuple[str, str]]:
    """Untaxed amount, taxes and total."""
    t = quotation.totals
    return [("Untaxed amount", str(t.untaxed)), ("Taxes", str(t.tax)), ("Total", str(t.total))]


# -- HTML -------------------------------------------------------------------------------------

_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}"
    "th,td{border-bottom:1px solid #ccc;padding:.3em .5em;text-align:left}"
    "td.num,th.num{text-align:right}"
    ".notes,.description{white-space:pre-wrap}"
)
_NUMERIC = {"Quantity", "Unit price", "Amount"}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(tag: str, column: str, text: str) -> str:
        css = ' class="num"' if column in _NUMERIC else ""
        return f"<{tag}{css}>{_e(text)}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell("th", c, c) for c in columns) + "</tr>"]
    for row in rows:
        out.append(
            "<tr>" + "".join(cell("td", c, v) for c, v in zip(columns, row, strict=True)) + "</tr>"
        )
    out.append("</table>")
    return out


def render_html(quotation: Quotation) -> str:
    """A standalone HTML page; every value from the order is escaped."""
    q = quotation
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_e(q.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(q.title)}</h1>",
        '<table class="header">',
    ]
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in header_fields(q)]
    out.append("</table>")
    if q.description:
        out += ["<h2>Problem</h2>", f'<div class="description">{_e(q.description)}</div>']
    out.append("<h2>Parts</h2>")
    out += _html_table(PART_COLUMNS, part_rows(q)) if q.parts else ["<p>No parts.</p>"]
    out.append("<h2>Operations</h2>")
    out += (
        _html_table(OPERATION_COLUMNS, operation_rows(q))
        if q.operations
        else ["<p>No operations.</p>"]
    )
    out.append('<table class="totals">')
    out += [f'<tr><th>{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in total_rows(q)]
    out.append("</table>")
    if q.notes:
        out += ["<h2>Notes</h2>", f'<div class="notes">{_e(q.notes)}</div>']
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# -- plain text -------------------------------------------------------------------------------


def _text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (columns, *rows)) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        cells = [
            v.rjust(w) if c in _NUMERIC else v.ljust(w)
            for c, v, w in zip(columns, row, widths, strict=True)
        ]
        return "  ".join(cells).rstrip()

    return [line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _heading(text: str, underline: str) -> list[str]:
    return [text, underline * len(text)]


def render_text(quotation: Quotation) -> str:
    """A plain-text rendering, for emails and terminals."""
    q = quotation
    out = _heading(q.title, "=")
    label_width = max(len(k) for k, _ in header_fields(q))
    out += [f"{k + ':':<{label_width + 1}} {v}" for k, v in header_fields(q)]
    if q.description:
        out += ["", *_heading("Problem", "-"), q.description]
    out += ["", *_heading("Parts", "-")]
    out += _text_table(PART_COLUMNS, part_rows(q)) if q.parts else ["No parts."]
    out += ["", *_heading("Operations", "-")]
    out += _text_table(OPERATION_COLUMNS, operation_rows(q)) if q.operations else ["No operations."]
    out.append("")
    totals = total_rows(q)
    width = max(len(v) for _, v in totals)
    out += [f"{k + ':':<16}{v:>{width}}" for k, v in totals]
    if q.notes:
        out += ["", *_heading("Notes", "-"), q.notes]
    out.append("")
    return "\n".join(out)
