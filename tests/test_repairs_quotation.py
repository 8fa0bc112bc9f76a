"""The quotation document (RP-6): HTML, plain text and PDF; the quotation notes always,
the internal notes never."""

from __future__ import annotations

import html
import io
import sys
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.documents import Quotation, render_text
from aftersales.errors import ConfigurationError, InvalidInput
from aftersales.models import (
    InvoiceMethod,
    Money,
    OperationLine,
    PartAction,
    PartLine,
    ProductKind,
    Tax,
)
from aftersales.serialization import dumps, loads
from aftersales.testing import Scenario, build_scenario
from tests.repairs_support import INTERNAL, QUOTE, Kit

FORMATS = ("html", "text", "pdf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture
def kit(app: AfterSales, backend: Any, scenario: Scenario, clock: FrozenClock) -> Kit:
    return Kit.build(app, backend, scenario, clock)


def pdf_text(document: bytes) -> str:
    reader = PdfReader(io.BytesIO(document))
    return "\n".join(page.extract_text() for page in reader.pages)


def readable(kit: Kit, repair_id: str, fmt: str) -> str:
    """The document as a person would read it: PDF text extracted, HTML unescaped."""
    document = kit.app.repairs.quotation(repair_id, actor=kit.agent, format=fmt)
    if fmt == "pdf":
        assert isinstance(document, bytes)
        assert document.startswith(b"%PDF-")
        return pdf_text(document)
    assert isinstance(document, str)
    return html.unescape(document) if fmt == "html" else document


# -- both facts, every format ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_rp6_quotation_notes_always_internal_notes_never(kit: Kit, fmt: str) -> None:
    repair = kit.create(internal_notes=INTERNAL, quotation_notes=QUOTE)
    text = readable(kit, repair.id, fmt)
    assert QUOTE in text
    assert "INTERNAL-ONLY" not in text
    assert "rude" not in text
    raw = kit.app.repairs.quotation(repair.id, actor=kit.agent, format=fmt)
    if isinstance(raw, bytes):
        assert b"INTERNAL" not in raw
    else:
        assert "INTERNAL" not in raw


@pytest.mark.parametrize("fmt", FORMATS)
def test_rp6_parts_operations_and_totals_with_tax(kit: Kit, fmt: str) -> None:
    """The worked example: 18.50 + 45.00 untaxed, 3.89 + 9.45 tax, 76.84 EUR in all."""
    repair = kit.create(quotation_notes=QUOTE)
    text = readable(kit, repair.id, fmt)
    for expected in (
        "Repair quotation RO/00001",
        "Ana Pérez",
        "Blender",
        "Motor",
        "Motor (lot OLD-1)",
        "not charged",
        "Labour",
        "1.50 Hours",
        "18.50 EUR",
        "45.00 EUR",
        "63.50 EUR",
        "13.34 EUR",
        "76.84 EUR",
    ):
        assert expected in text, expected


def test_rp6_plain_text_worked_example(kit: Kit) -> None:
    repair = kit.create(quotation_notes=QUOTE, description="Stops after a week.")
    text = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="text")
    assert text == (
        "Repair quotation RO/00001\n"
        "=========================\n"
        "Date:              2026-11-28\n"
        "Customer:          Ana Pérez\n"
        "Ticket:            #1\n"
        "Product to repair: Blender, 1 Units\n"
        "Invoicing:         No invoice\n"
        "\n"
        "Problem\n"
        "-------\n"
        "Stops after a week.\n"
        "\n"
        "Parts\n"
        "-----\n"
        "Action  Part               Quantity  Unit price  Taxes       Amount\n"
        "------  -----------------  --------  ----------  -----  -----------\n"
        "Add     Motor               1 Units   18.50 EUR  21%      18.50 EUR\n"
        "Remove  Motor (lot OLD-1)   1 Units           -  -      not charged\n"
        "\n"
        "Operations\n"
        "----------\n"
        "Operation    Quantity  Unit price  Taxes     Amount\n"
        "---------  ----------  ----------  -----  ---------\n"
        "Labour     1.50 Hours   30.00 EUR  21%    45.00 EUR\n"
        "\n"
        "Untaxed amount: 63.50 EUR\n"
        "Taxes:          13.34 EUR\n"
        "Total:          76.84 EUR\n"
        "\n"
        "Notes\n"
        "-----\n"
        "Parts are guaranteed for 6 months.\n"
    )


def test_rp6_a_repair_without_lines(kit: Kit) -> None:
    repair = kit.create(parts=(), operations=())
    text = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="text")
    assert "No parts." in text
    assert "No operations." in text
    assert "Total:          0.00 EUR" in text
    assert "Notes" not in text


def test_rp6_title_after_confirmation_and_invoice_address(kit: Kit) -> None:
    repair = kit.create(
        invoice_method=InvoiceMethod.AFTER_REPAIR, invoice_address_id=kit.world.company.id
    )
    kit.app.repairs.confirm(repair.id, actor=kit.agent)
    text = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="text")
    assert text.startswith("Repair order RO/00001\n")
    assert "Invoice address:   Pérez Hogar S.L." in text
    assert "Invoicing:         Invoiced after the repair" in text


# -- HTML escaping ---------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def test_rp6_html_escapes_every_value(kit: Kit) -> None:
    evil_product = kit.builder.product(
        name='Mixer <img src=x onerror="alert(1)">', price=Decimal(10)
    )
    evil_labour = kit.builder.product(
        name="Fix & <b>clean</b>", price=Decimal(5), kind=ProductKind.SERVICE
    )
    notes = '<script>alert("x")</script> & "quotes" \'too\''
    repair = kit.create(
        product_id=evil_product.id,
        description="</div><h1>fake</h1>",
        lot="<i>",
        quotation_notes=notes,
        parts=(PartLine(action=PartAction.ADD, product_id=evil_product.id, quantity=Decimal(1)),),
        operations=(OperationLine(product_id=evil_labour.id),),
    )
    page = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="html")
    parser = _Tags()
    parser.feed(page)
    assert parser.tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2",
        "table", "tr", "th", "td", "div", "p",
    }  # fmt: skip
    assert parser.attrs <= {"lang", "charset", "class"}
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "&lt;/div&gt;&lt;h1&gt;fake&lt;/h1&gt;" in page
    assert notes in html.unescape(page)
    assert page.count("<h1>") == 1


# -- PDF -------------------------------------------------------------------------------------------


def test_rp6_pdf_without_fpdf2_names_the_extra(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    repair = kit.create(quotation_notes=QUOTE)
    monkeypatch.setitem(sys.modules, "fpdf", None)  # as if fpdf2 were not installed
    with pytest.raises(ConfigurationError, match=r"fpdf2.*pip install 'aftersales\[pdf\]'"):
        kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf")
    # the core formats do not need it
    assert QUOTE in kit.app.repairs.quotation(repair.id, actor=kit.agent, format="text")
    assert QUOTE in kit.app.repairs.quotation(repair.id, actor=kit.agent, format="html")


def test_rp6_pdf_is_reproducible(kit: Kit) -> None:
    repair = kit.create()
    first = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf")
    kit.clock.advance(hours=2)  # same day, same document
    assert kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf") == first
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert reader.metadata.title == "Repair quotation RO/00001"


def test_rp6_pdf_long_notes_flow_onto_more_pages(kit: Kit) -> None:
    lines = [f"Condition {n:03d}: the warranty covers this case." for n in range(150)]
    repair = kit.create(quotation_notes="\n".join(lines), internal_notes=INTERNAL)
    document = kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf")
    reader = PdfReader(io.BytesIO(document))
    assert len(reader.pages) > 1
    text = pdf_text(document)
    assert lines[0] in text
    assert lines[-1] in text
    assert "INTERNAL-ONLY" not in text


def test_rp6_pdf_core_fonts_replace_what_they_cannot_print(kit: Kit) -> None:
    snowman = kit.builder.product(name="Snow ☃ globe", price=Decimal("12.00"))
    repair = kit.create(product_id=snowman.id, quotation_notes="Précis — “quoted” 5 €")
    text = pdf_text(kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf"))
    assert "Snow ? globe" in text
    assert "Précis — “quoted” 5 €" in text  # Windows-1252 is covered


@pytest.mark.skipif(not DEJAVU.exists(), reason="needs the DejaVu Sans font")
def test_rp6_pdf_with_a_unicode_font(kit: Kit) -> None:
    from functools import partial

    from aftersales.documents.pdf import render_pdf

    kit.app.repairs.renderers["pdf"] = partial(render_pdf, font_path=DEJAVU)
    snowman = kit.builder.product(name="Snow ☃ globe", price=Decimal("12.00"))
    repair = kit.create(product_id=snowman.id, quotation_notes="Ремонт 修理")
    text = pdf_text(kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf"))
    assert "Snow ☃ globe" in text
    assert "Ремонт" in text


# -- pluggable renderers ---------------------------------------------------------------------------


def test_rp6_renderers_are_pluggable(kit: Kit) -> None:
    def markdown(q: Quotation) -> str:
        return f"# {q.title}\n\n{q.notes}\n"

    kit.app.repairs.renderers["markdown"] = markdown
    repair = kit.create(quotation_notes=QUOTE, internal_notes=INTERNAL)
    assert kit.app.repairs.quotation(repair.id, actor=kit.agent, format="markdown") == (
        f"# Repair quotation RO/00001\n\n{QUOTE}\n"
    )


def test_rp6_unknown_format_is_refused(kit: Kit) -> None:
    repair = kit.create()
    with pytest.raises(InvalidInput, match=r"format=docx.*html, pdf, text"):
        kit.app.repairs.quotation(repair.id, actor=kit.agent, format="docx")


def test_rp6_a_pdf_renderer_must_give_bytes(kit: Kit) -> None:
    kit.app.repairs.renderers["pdf"] = render_text
    repair = kit.create()
    with pytest.raises(ConfigurationError, match="'pdf' quotation renderer returned str"):
        kit.app.repairs.quotation(repair.id, actor=kit.agent, format="pdf")


def test_quotation_data_round_trips(kit: Kit) -> None:
    repair = kit.create(quotation_notes=QUOTE, internal_notes=INTERNAL, lot="SN-5")
    data = kit.app.repairs.quotation_data(repair.id, actor=kit.agent)
    assert loads(dumps(data), Quotation) == data
    assert INTERNAL not in dumps(data)


# -- the quotation says what the invoice will say --------------------------------------------------

TAXES = st.sampled_from(
    [
        (),
        (Tax(name="21%", percent=Decimal(21)),),
        (Tax(name="10% incl", percent=Decimal(10), price_include=True),),
        (Tax(name="4%", percent=Decimal(4)), Tax(name="1.5%", percent=Decimal("1.5"))),
    ]
)
PRICES = st.decimals(min_value=0, max_value=5000, places=2)
LINE = st.tuples(
    st.sampled_from(list(PartAction)), st.integers(min_value=1, max_value=50), PRICES, TAXES
)
OPERATION = st.tuples(st.decimals(min_value="0.01", max_value=40, places=2), PRICES, TAXES)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    parts=st.lists(LINE, max_size=5),
    operations=st.lists(OPERATION, min_size=1, max_size=4),
)
def test_rp6_rp9_quotation_totals_equal_the_invoice(
    parts: list[tuple[PartAction, int, Decimal, tuple[Tax, ...]]],
    operations: list[tuple[Decimal, Decimal, tuple[Tax, ...]]],
) -> None:
    backend = MemoryBackend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    app = AfterSales(backend, clock=clock)
    kit = Kit.build(app, backend, build_scenario(backend.builder(clock)), clock)
    repair = kit.create(
        invoice_method=InvoiceMethod.BEFORE_REPAIR,
        parts=tuple(
            PartLine(
                action=action,
                product_id=kit.motor.id,
                quantity=Decimal(qty),
                unit_price=Money.of(price, "EUR"),
                taxes=taxes,
            )
            for action, qty, price, taxes in parts
        ),
        operations=tuple(
            OperationLine(
                product_id=kit.labour.id,
                quantity=qty,
                unit_price=Money.of(price, "EUR"),
                taxes=taxes,
            )
            for qty, price, taxes in operations
        ),
    )
    quotation = app.repairs.quotation_data(repair.id, actor=kit.agent)
    app.repairs.confirm(repair.id, actor=kit.agent)
    invoice = app.repairs.create_invoice(repair.id, actor=kit.agent).invoice
    assert quotation.totals == invoice.amounts
    charged = [line for line in (*quotation.parts, *quotation.operations) if line.charged]
    assert len(charged) == len(invoice.lines)
    assert quotation.totals.total == quotation.totals.untaxed + quotation.totals.tax
    assert all(line.amounts.total.is_zero() for line in quotation.parts if not line.charged)
