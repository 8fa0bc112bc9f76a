"""PDF rendering of repair quotations, with fpdf2 (optional extra `pdf`).

Install it with `pip install 'aftersales[pdf]'`. Without fpdf2 the library works as before;
only asking for a PDF raises [`ConfigurationError`][aftersales.errors.ConfigurationError] saying
so.

The built-in PDF fonts cover Windows-1252 (Western European text, the euro sign, typographic
quotes and dashes); other characters print as `?`. For any other script, give a Unicode
TrueType font:

```python
from functools import partial
from aftersales.documents.pdf import render_pdf

app.repairs.renderers["pdf"] = partial(render_pdf, font_path="/path/DejaVuSans.ttf")
```
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from typing import Any

from aftersales.documents.quotation import (
    OPERATION_COLUMNS,
    PART_COLUMNS,
    Quotation,
    header_fields,
    operation_rows,
    part_rows,
    total_rows,
)
from aftersales.errors import ConfigurationError

__all__ = ["INSTALL_HINT", "render_pdf"]

#: What to run when fpdf2 is missing.
INSTALL_HINT = "pip install 'aftersales[pdf]'"

_CORE_FONT = "Helvetica"
_CORE_ENCODING = "windows-1252"
_PART_WIDTHS = (14, 38, 14, 14, 8, 14)
_OPERATION_WIDTHS = (46, 14, 16, 8, 16)
_NUMERIC = {"Quantity", "Unit price", "Amount"}


def _fpdf() -> Any:
    try:
        import fpdf
    except ImportError as exc:
        raise ConfigurationError(
            f"rendering a quotation as PDF needs fpdf2, which is not installed: {INSTALL_HINT}"
        ) from exc
    return fpdf


class _Writer:
    """Lays the quotation out on A4 pages, one block after another."""

    def __init__(self, fpdf: Any, font_path: str | os.PathLike[str] | None) -> None:
        self.pdf = fpdf.FPDF(orientation="portrait", unit="mm", format="A4")
        if font_path is None:
            self.family = _CORE_FONT
            self.pdf.core_fonts_encoding = _CORE_ENCODING
            self.unicode = False
        else:
            self.family = "QuotationFont"
            self.pdf.add_font(self.family, "", os.fspath(font_path))
            self.pdf.add_font(self.family, "B", os.fspath(font_path))
            self.unicode = True
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()

    def clean(self, text: str) -> str:
        if self.unicode:
            return text
        return text.encode(_CORE_ENCODING, "replace").decode(_CORE_ENCODING)

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def paragraph(self, text: str, size: float = 10, bold: bool = False) -> None:
        self.font(size, bold)
        self.pdf.multi_cell(0, size * 0.5, self.clean(text), new_x="LMARGIN", new_y="NEXT")

    def gap(self, height: float = 3) -> None:
        self.pdf.ln(height)

    def table(
        self,
        columns: tuple[str, ...],
        rows: list[tuple[str, ...]],
        widths: tuple[int, ...],
    ) -> None:
        self.font(9)
        align = tuple("RIGHT" if c in _NUMERIC else "LEFT" for c in columns)
        with self.pdf.table(
            col_widths=widths, text_align=align, first_row_as_headings=True
        ) as table:
            for row in (columns, *rows):
                cells = table.row()
                for value in row:
                    cells.cell(self.clean(value))
        self.gap()

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_pdf(quotation: Quotation, *, font_path: str | os.PathLike[str] | None = None) -> bytes:
    """The quotation as a PDF document (bytes).

    The output is reproducible: the document's dates are the quotation's issue date, so the
    same quotation gives the same bytes. Raises
    [`ConfigurationError`][aftersales.errors.ConfigurationError] naming `pip install
    'aftersales[pdf]'` when fpdf2 is not installed.
    """
    q = quotation
    writer = _Writer(_fpdf(), font_path)
    pdf = writer.pdf
    pdf.set_title(writer.clean(q.title))
    pdf.set_creator("aftersales")
    pdf.set_creation_date(datetime.combine(q.issued_on, time(), tzinfo=UTC))

    writer.paragraph(q.title, size=16, bold=True)
    writer.gap()
    for label, value in header_fields(q):
        writer.paragraph(f"{label}: {value}")
    if q.description:
        writer.gap()
        writer.paragraph("Problem", size=12, bold=True)
        writer.paragraph(q.description)
    writer.gap()
    writer.paragraph("Parts", size=12, bold=True)
    if q.parts:
        writer.table(PART_COLUMNS, part_rows(q), _PART_WIDTHS)
    else:
        writer.paragraph("No parts.")
    writer.paragraph("Operations", size=12, bold=True)
    if q.operations:
        writer.table(OPERATION_COLUMNS, operation_rows(q), _OPERATION_WIDTHS)
    else:
        writer.paragraph("No operations.")
    for label, value in total_rows(q):
        writer.paragraph(f"{label}: {value}", bold=label == "Total")
    if q.notes:
        writer.gap()
        writer.paragraph("Notes", size=12, bold=True)
        writer.paragraph(q.notes)
    return writer.output()
