"""Text is checked the same way on every backend: lone surrogates (which no UTF-8 database
can store), bidirectional controls and, in one-line text, line and paragraph separators (which
let a trail entry or a reference be spoofed) are ``InvalidInput`` before anything is stored;
the length is checked before any character is looked at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import InvalidInput
from aftersales.models import Money, Order, OrderLine
from aftersales.models._fields import MAX_TEXT, check_text
from aftersales.models.mail import check_email_address
from aftersales.testing import assert_unchanged
from tests.reliability.setting import Setting

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
BIDI = [chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
SEPARATORS = ["\u2028", "\u2029"]


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("char", SURROGATES)
def test_a_lone_surrogate_is_refused_in_any_text(char: str, multiline: bool) -> None:
    with pytest.raises(InvalidInput, match=r"lone surrogate \(U\+D[89A-F][0-9A-F]{2}\)"):
        check_text(f"Broken{char}kettle", "reason", multiline=multiline)


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_bidirectional_control_is_refused_in_any_text(char: str, multiline: bool) -> None:
    with pytest.raises(
        InvalidInput, match=f"bidirectional control character \\(U\\+{ord(char):04X}"
    ):
        check_text(f"INV/2026/0001{char}1000", "reference", multiline=multiline)


@pytest.mark.parametrize("char", SEPARATORS)
def test_a_line_or_paragraph_separator_is_refused_in_one_line_text_only(char: str) -> None:
    with pytest.raises(InvalidInput, match="line or paragraph separator"):
        check_text(f"Title{char}Forged line", "title")
    assert check_text(f"A note{char}on two lines", "note", multiline=True)


def test_text_that_is_too_long_is_refused_before_its_characters_are_looked_at() -> None:
    """The message is about the length even when the text also holds a refused character:
    a 10 MB string is refused by its length, without a scan."""
    huge = "x" * 10_000_000 + "\ud800\u202e"
    with pytest.raises(InvalidInput, match=f"is longer than {MAX_TEXT} characters") as error:
        check_text(huge, "note", max_length=MAX_TEXT, multiline=True)
    assert len(str(error.value)) < 200  # the value is cut, never shown whole
    with pytest.raises(InvalidInput, match="is longer than 256 characters"):
        Order.of(_line(), reference=huge)
    with pytest.raises(InvalidInput, match="is too long for an email address") as error:
        check_email_address("a" * 50_000_000 + "\ud800@example.com", "extra_recipients")
    assert len(str(error.value)) < 200


def _line() -> OrderLine:
    return OrderLine(quantity=Decimal(1), unit_price=Money.of(1, "EUR"))


@pytest.mark.parametrize("char", ["\ud800", "\u202e"])
def test_an_email_address_refuses_what_text_never_holds(char: str) -> None:
    with pytest.raises(InvalidInput, match=r"lone surrogate|bidirectional control"):
        check_email_address(f"Ana {char} <ana@example.com>", "extra_recipients")


# -- the same on every backend ----------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def aftersales_backend(
    request: pytest.FixtureRequest, new_sqlite: Callable[[], str]
) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    backend = SqlBackend(new_sqlite())
    yield backend
    backend.close()


def _calls(s: Setting) -> dict[str, Callable[[str], object]]:
    app, agent = s.app, s.agent
    ticket = s.ticket()
    invoice = s.invoice()
    return {
        "refunds.reverse reason": lambda bad: app.refunds.reverse(
            ticket.id, invoice.id, reason=f"Damaged{bad}", actor=agent
        ),
        "repairs.create internal_notes": lambda bad: app.repairs.create(
            ticket.id, internal_notes=f"Check the lid{bad}", actor=agent
        ),
        "field_service.create_task title": lambda bad: app.field_service.create_task(
            ticket.id, title=f"Visit{bad}", actor=agent
        ),
        "coupons.evaluate order reference": lambda bad: app.coupons.evaluate(
            "ANY-CODE", Order.of(_line(), reference=f"SO/001{bad}"), actor=agent
        ),
        "idempotency_key": lambda bad: app.field_service.create_task(
            ticket.id, actor=agent, idempotency_key=f"key{bad}"
        ),
    }


@pytest.mark.parametrize(
    "call",
    [
        "refunds.reverse reason",
        "repairs.create internal_notes",
        "field_service.create_task title",
        "coupons.evaluate order reference",
        "idempotency_key",
    ],
)
@pytest.mark.parametrize("bad", ["\ud800", "\u202e", "\u2066"], ids=["surrogate", "RLO", "LRI"])
def test_refused_text_is_invalid_input_on_every_backend_and_changes_nothing(
    setting: Setting, call: str, bad: str
) -> None:
    """Before, the memory backend stored a lone surrogate and SQL raised ``BackendError:
    'utf-8' codec can't encode``; bidi controls were stored by both."""
    make = _calls(setting)[call]
    with pytest.raises(InvalidInput), assert_unchanged(setting.backend):
        make(bad)
