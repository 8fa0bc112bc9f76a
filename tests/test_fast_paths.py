"""The fast paths behave exactly like the slow ones they replace.

Compiled hook calls against pluggy's own call, ``models.evolve`` against ``attrs.evolve``,
Money's exact arithmetic against the validating constructor, shared invoice totals against
a fresh sum, the control-character check against ``unicodedata``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Generator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pluggy import HookCaller, HookCallError

from aftersales import AfterSales, FrozenClock, hookimpl
from aftersales.errors import InvalidInput, NotFound
from aftersales.ids import new_id
from aftersales.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    Partner,
    PaymentState,
    Team,
    Ticket,
    evolve,
)
from aftersales.models._fields import check_text
from aftersales.models.money import MAX_AMOUNT
from aftersales.models.products import LineAmounts, compute_line
from aftersales.testing import Scenario
from tests.reliability.flows import FLOWS, Flow
from tests.reliability.setting import Setting
from tests.strategies import aware, euros, ids, register

register()

WHEN = FrozenClock("2026-11-28T09:00:00+00:00").now()


# -- hook calls -------------------------------------------------------------------------------


class Override:
    """A plugin answering one lookup before the backend (pluggy calls newest first)."""

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        if partner_id == "ghost":
            return Partner(id="ghost", name="Ghost", commercial_entity_id="ghost")
        return None


def test_a_plugin_registered_later_is_called_and_unregistering_it_forgets_it(
    app: AfterSales, scenario: Scenario
) -> None:
    with pytest.raises(NotFound):
        app.hooks.get_partner("ghost")
    plugin = Override()
    app.pm.register(plugin, name="override")
    assert app.hooks.get_partner("ghost").name == "Ghost"
    assert app.hooks.get_partner(scenario.customer.id) == scenario.customer  # falls through
    app.pm.unregister(plugin)
    with pytest.raises(NotFound):
        app.hooks.get_partner("ghost")


def test_a_hook_wrapper_is_run_by_pluggy(app: AfterSales, scenario: Scenario) -> None:
    seen: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def aftersales_helpdesk_get_team(self, team_id: str) -> Generator[None, Team, Team]:
            seen.append(team_id)
            team = yield
            return attrs.evolve(team, name="Wrapped")

    app.pm.register(Wrapper())
    assert app.hooks.get_team(scenario.team.id).name == "Wrapped"
    assert seen == [scenario.team.id]


def test_call_monitoring_sees_every_hook_call_while_it_is_on(
    app: AfterSales, scenario: Scenario
) -> None:
    calls: list[str] = []
    app.hooks.get_ticket(scenario.ticket.id)  # compile the plan first
    undo = app.pm.add_hookcall_monitoring(lambda name, *_: calls.append(name), lambda *_: None)
    app.hooks.get_ticket(scenario.ticket.id)
    undo()
    app.hooks.get_ticket(scenario.ticket.id)
    assert calls == ["aftersales_helpdesk_get_ticket"]


def test_a_missing_argument_is_pluggys_error(app: AfterSales) -> None:
    with pytest.raises(HookCallError, match="must provide argument 'partner_id'"):
        app.hooks._h.aftersales_helpdesk_get_partner()


def test_a_broadcast_hook_returns_every_answer_as_pluggy_does(app: AfterSales) -> None:
    class Modules:
        @hookimpl
        def aftersales_modules_catalogue(self) -> list[object]:
            return []

    app.pm.register(Modules())
    direct = app.pm.hook.aftersales_modules_catalogue()
    assert app.hooks._h.aftersales_modules_catalogue() == direct == [[]]


def test_an_unknown_hook_name_is_an_attribute_error(app: AfterSales) -> None:
    with pytest.raises(AttributeError):
        app.hooks._h.aftersales_no_such_hook  # noqa: B018
    with pytest.raises(AttributeError):
        app.hooks._h.something_else  # noqa: B018


class _Marker:
    """A plugin answering the catalogue (broadcast) and the team lookup (firstresult) with
    its own marker, at the position ``opts`` give it."""

    def __init__(self, marker: str, *, tryfirst: bool = False, trylast: bool = False) -> None:
        self.marker = marker

        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def aftersales_modules_catalogue() -> list[object]:
            return [marker]

        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def aftersales_helpdesk_get_team(team_id: str) -> Team | None:
            return Team(id=team_id, name=marker) if marker != "silent" else None

        self.aftersales_modules_catalogue = aftersales_modules_catalogue
        self.aftersales_helpdesk_get_team = aftersales_helpdesk_get_team


@pytest.mark.parametrize(
    "order",
    [
        ("plain", "first", "last", "silent"),
        ("last", "silent", "first", "plain"),
        ("silent", "plain", "plain2", "last"),
    ],
)
def test_the_plan_calls_in_pluggys_order_with_tryfirst_and_trylast(
    app: AfterSales, scenario: Scenario, order: tuple[str, ...]
) -> None:
    for marker in order:
        plugin = _Marker(marker, tryfirst=marker == "first", trylast=marker == "last")
        app.pm.register(plugin, name=marker)
    planned = app.hooks._h.aftersales_modules_catalogue
    assert not isinstance(planned, HookCaller)  # compiled, not pluggy's call
    assert planned() == app.pm.hook.aftersales_modules_catalogue()
    team = scenario.team.id
    assert app.hooks._h.aftersales_helpdesk_get_team(team_id=team) == (
        app.pm.hook.aftersales_helpdesk_get_team(team_id=team)
    )


def test_pluggy_runs_the_calls_while_they_are_monitored(app: AfterSales) -> None:
    def through_pluggy() -> bool:
        return isinstance(app.hooks._h.aftersales_helpdesk_get_ticket, HookCaller)

    assert not through_pluggy()
    undo = app.pm.add_hookcall_monitoring(lambda *_: None, lambda *_: None)
    undo_tracing = app.pm.enable_tracing()
    assert app.pm.monitored and through_pluggy()
    undo_tracing()
    undo()
    undo()  # a second undo changes nothing
    assert (app.pm.monitored, through_pluggy()) == (False, False)


def test_the_spec_options_are_read_from_the_markers(app: AfterSales) -> None:
    get_invoice = app.pm.spec("aftersales_accounting_get_invoice")
    assert get_invoice is not None
    assert get_invoice.firstresult and not get_invoice.historic and not get_invoice.defaults
    assert get_invoice.argnames == ("invoice_id", "lock")
    catalogue = app.pm.spec("aftersales_modules_catalogue")
    assert catalogue is not None and not catalogue.firstresult
    assert app.pm.spec("aftersales_no_such_hook") is None


_PLUGGY_INTERNALS = re.compile(
    r"\._inner_hookexec|plain_hookexec|\._hookexec|\._hookimpls|kwargdefaults|_multicall"
    r"|caller\.spec\b|\.spec\.(opts|argnames|kwargnames)|pluggy\._|_call_history"
    r"|\b(pm|hook|caller|impl)\._[a-z]|vars\((self|pm)\.hook\)|\.hook\.__dict__"
)


def test_pluggy_is_used_through_its_public_api_only() -> None:
    """The declared pluggy floor holds only if nothing leans on pluggy's internals."""
    root = Path(__file__).parent.parent
    sources = [*(root / "src" / "aftersales").rglob("*.py"), *(root / "benchmarks").glob("*.py")]
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _PLUGGY_INTERNALS.search(line)
    ]
    assert found == []


# -- records and statements through their libraries' public API ------------------------------

_ATTRS_INTERNALS = re.compile(r"object\.__new__|object\.__setattr__|__attrs_attrs__")
_SQLALCHEMY_INTERNALS = re.compile(
    r"SQLCompiler|escaped_bind_names|positiontup|(?<!type)\.compile\(|conn\.connection\b|"
    r"\.dbapi_connection\.cursor|bind_processor|result_processor"
)


def _lines_matching(pattern: re.Pattern[str], *folders: str) -> list[str]:
    root = Path(__file__).parent.parent
    return [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for folder in folders
        for path in (root / "src" / "aftersales" / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_records_are_made_and_changed_by_attrs_itself() -> None:
    """Records are built by attrs' generated ``__init__`` and copied with
    ``attrs.evolve``: no record is put together field by field (``Money``, a value type
    with its own exact arithmetic in ``models/money.py``, is the one exception left)."""
    assert evolve is attrs.evolve
    found = _lines_matching(_ATTRS_INTERNALS, "models", "services", "erp")
    assert [line for line in found if not line.startswith("src/aftersales/models/money.py")] == []


def test_sql_statements_run_through_sqlalchemys_execution() -> None:
    """No statement is compiled by hand or sent on the driver's cursor."""
    assert _lines_matching(_SQLALCHEMY_INTERNALS, "backends/sql") == []


def test_a_change_is_still_checked_against_the_other_fields(scenario: Scenario) -> None:
    with pytest.raises(InvalidInput, match="must be in USD"):
        evolve(scenario.invoice, currency="USD")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        evolve(scenario.invoice, colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_record_a_flow_stores_is_valid(flow: Flow, setting: Setting) -> None:
    """Every record a flow stores passes every validator."""
    state = flow.prepare(setting)
    flow.perform(setting, state, "key-1")
    stored = setting.backend.snapshot()
    checked = 0
    for table in stored.values():
        for record in table.values():
            if attrs.has(type(record)):
                attrs.validate(record)
                checked += 1
    assert checked > 0


# -- Money ------------------------------------------------------------------------------------

currencies = st.sampled_from(["EUR", "JPY", "KWD"])
amounts = st.decimals(min_value=-(10**14), max_value=10**14, places=3, allow_nan=False)


@given(a=amounts, b=amounts, currency=currencies)
def test_exact_arithmetic_is_the_validating_constructor(
    a: Decimal, b: Decimal, currency: str
) -> None:
    x, y = Money.of(a, currency), Money.of(b, currency)
    assert x + y == Money.of(x.amount + y.amount, currency)
    assert x - y == Money.of(x.amount - y.amount, currency)
    assert (x + y).amount.as_tuple().exponent == Money.of(0, currency).amount.as_tuple().exponent
    assert (x < y, x <= y, x > y, x >= y) == (
        x.amount < y.amount,
        x.amount <= y.amount,
        x.amount > y.amount,
        x.amount >= y.amount,
    )
    assert x.is_zero() == (x.amount == 0)


def test_a_sum_out_of_range_is_still_refused() -> None:
    big = Money.of(MAX_AMOUNT - 1, "EUR")
    with pytest.raises(InvalidInput, match="amount"):
        big + big
    with pytest.raises(InvalidInput, match="amount"):
        -big - big


def test_mixing_currencies_is_still_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be mixed with EUR"):
        Money.of(1, "EUR") + Money.of(1, "USD")
    with pytest.raises(TypeError):
        _ = Money.of(1, "EUR") < 1  # type: ignore[operator]


def test_zero_is_shared_and_still_checks_the_currency() -> None:
    assert Money.zero("EUR") is Money.zero("EUR")
    assert str(Money.zero("KWD")) == "0.000 KWD"
    with pytest.raises(InvalidInput, match="ISO 4217"):
        Money.zero("XXX")


# -- line totals ------------------------------------------------------------------------------


def _chained(items: Sequence[LineAmounts], currency: str) -> LineAmounts:
    total = LineAmounts.zero(currency)
    for item in items:
        total = total + item
    return total


@given(
    lines=st.lists(
        st.tuples(
            st.decimals(min_value=-50, max_value=50, places=2, allow_nan=False),
            euros,
            st.sampled_from([(), ("21%",), ("10% incl",)]),
        ),
        max_size=6,
    )
)
def test_line_amounts_sum_is_the_chained_sum(
    lines: list[tuple[Decimal, Money, tuple[str, ...]]],
) -> None:
    from aftersales.builder import parse_tax

    amounts = [compute_line(q, price, tuple(map(parse_tax, taxes))) for q, price, taxes in lines]
    assert LineAmounts.sum(amounts, "EUR") == _chained(amounts, "EUR")


def test_line_amounts_sum_refuses_another_currency_as_adding_does() -> None:
    euro = compute_line(Decimal(1), Money.of(10, "EUR"), ())
    dollar = compute_line(Decimal(1), Money.of(10, "USD"), ())
    with pytest.raises(InvalidInput, match="cannot be mixed"):
        LineAmounts.sum([euro, dollar], "EUR")


@given(price=euros, when=aware, first=ids, second=ids)
def test_invoices_sharing_lines_share_equal_totals(
    price: Money, when: Any, first: str, second: str
) -> None:
    lines = (InvoiceLine(description="x", quantity=Decimal(3), unit_price=price),)

    def invoice(id_: str, kind: InvoiceKind) -> Invoice:
        return Invoice(
            id=id_,
            kind=kind,
            customer_id="c",
            currency="EUR",
            lines=lines,
            state=InvoiceState.POSTED,
            created_at=when,
        )

    note = invoice(second, InvoiceKind.CREDIT_NOTE)
    assert invoice(first, InvoiceKind.INVOICE).amounts == note.amounts
    assert note.total == _chained([line.amounts for line in lines], "EUR").total
    posted = evolve(note, payment_state=PaymentState.PAID)
    assert posted.total == note.total


# -- text, ids --------------------------------------------------------------------------------


#: Refused in any text, whatever its Unicode category says (besides Cc, Cs): the
#: bidirectional embedding, override and isolate controls.
BIDI_CONTROLS = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


@pytest.mark.parametrize("multiline", [False, True])
def test_the_control_character_check_is_unicode_category_cc_cs_and_bidi_controls(
    multiline: bool,
) -> None:
    """Refused: category Cc (but tab and line breaks in multi-line text), Cs (lone
    surrogates), the bidi controls, and Zl/Zp (U+2028, U+2029) in one-line text."""
    allowed = "\n\t\r" if multiline else ""
    never = ("Cc", "Cs") if multiline else ("Cc", "Cs", "Zl", "Zp")
    planes = [*range(0x10000), *range(0x10000, sys.maxunicode + 1, 97)]
    for code in planes:
        char = chr(code)
        refused = char not in allowed and (
            unicodedata.category(char) in never or code in BIDI_CONTROLS
        )
        try:
            check_text(f"a{char}b", "field", multiline=multiline)
        except InvalidInput:
            assert refused, hex(code)
        else:
            assert not refused, hex(code)


def test_new_ids_are_the_prefix_and_twenty_hex_digits() -> None:
    made = {new_id("msg") for _ in range(1000)}
    assert len(made) == 1000
    assert all(re.fullmatch(r"msg-[0-9a-f]{20}", i) for i in made)


def test_a_ticket_with_a_str_subclass_id_is_still_checked() -> None:
    class Tagged(str):
        pass

    ticket = Ticket(id=Tagged("t-1"), ref="1", title="x", team_id="team", created_at=WHEN)
    assert ticket.id == "t-1"
    with pytest.raises(InvalidInput, match="not a valid id"):
        Ticket(id=Tagged("no spaces"), ref="1", title="x", team_id="team", created_at=WHEN)
