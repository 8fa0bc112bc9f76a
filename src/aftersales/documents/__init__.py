"""Documents the library renders for customers: the repair quotation (RP-6).

HTML and plain text are built in; PDF needs the optional extra `pdf`
(`aftersales.documents.pdf`), imported only when a PDF is asked for.
"""

from aftersales.documents.quotation import (
    Quotation,
    QuotationLine,
    QuotationRenderer,
    build_quotation,
    render_html,
    render_text,
)

__all__ = [
    "Quotation",
    "QuotationLine",
    "QuotationRenderer",
    "build_quotation",
    "render_html",
    "render_text",
]
