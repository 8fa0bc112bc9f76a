"""What a Tryton database must hold before after-sales work: a test and demo world builder.

A new Tryton database has modules but no company, currency, chart of accounts, fiscal year,
taxes or payment terms. :func:`setup_company` and :func:`setup_accounting` create them the
way Tryton's own scenarios do (the ``company.company.config`` and ``account.create_chart``
wizards, a fiscal year with its periods and invoice sequences); :class:`WorldBuilder` then
adds customers and products. Everything returns Tryton's ids.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import attrs
from proteus import Model, Wizard

from aftersales.errors import InvalidInput
from aftersales_tryton._values import record_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated

__all__ = ["Accounting", "WorldBuilder", "setup_accounting", "setup_company"]

#: The minimal chart of accounts that the ``account`` module ships (English).
MINIMAL_CHART = "account.account_template_root_en"


@attrs.frozen
class Accounting:
    """The accounting a company needs to invoice, as Tryton ids."""

    company_id: int
    currency_code: str
    fiscal_year_id: int
    receivable_account_id: int
    revenue_account_id: int
    expense_account_id: int
    cash_account_id: int
    tax_id: int
    payment_term_id: int
    account_category_id: int


def _currency(config: Config, code: str) -> Any:
    currency_model = Model.get("currency.currency", config=config)
    found = currency_model.find([("code", "=", code)], limit=1)
    if found:
        return found[0]
    currency = currency_model(name=code, symbol=code, code=code, rounding=Decimal("0.01"))
    currency.save()
    rate = Model.get("currency.currency.rate", config=config)(
        date=dt.date.min, rate=Decimal(1), currency=currency
    )
    rate.save()
    return currency


def setup_company(config: Config, name: str, *, currency: str = "EUR") -> int:
    """Create the company ``name`` in ``currency`` and make it the user's; its id.

    Refreshes ``config``'s context (proteus keeps the user's preferences, which now name the
    company).
    """
    if not name.strip():
        raise InvalidInput("name", name, "a company needs a name")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidInput("currency", currency, "an ISO 4217 code such as 'EUR'")
    with translated("create the company"):
        party = Model.get("party.party", config=config)(name=name)
        party.save()
        wizard = Wizard("company.company.config", config=config)
        wizard.execute("company")
        wizard.form.party = party
        wizard.form.currency = _currency(config, currency)
        wizard.execute("add")
        user_model = Model.get("res.user", config=config)
        # proteus reads the user's preferences (company, currency) once, when it connects.
        config._context = user_model.get_preferences(True, {})
        (company,) = Model.get("company.company", config=config).find(
            [("party", "=", party.id)], limit=1
        )
    return record_id(company)


def _account(config: Config, company: int, kind: str) -> Any:
    account_model = Model.get("account.account", config=config)
    (account,) = account_model.find(
        [(f"type.{kind}", "=", True), ("company", "=", company), ("closed", "!=", True)],
        limit=1,
    )
    return account


def setup_accounting(
    config: Config, company_id: int, *, year: int, tax_rate: Decimal = Decimal("0.21")
) -> Accounting:
    """Chart of accounts, fiscal year ``year`` (periods, invoice sequences), one customer tax
    of ``tax_rate``, a direct payment term and an account category for products."""
    if not isinstance(tax_rate, Decimal) or not Decimal(0) <= tax_rate < Decimal(1):
        raise InvalidInput("tax_rate", tax_rate, "a Decimal rate in [0, 1), e.g. 0.21")
    with translated("set up the accounting"):
        template_id = Model.get("ir.model.data", config=config).get_id(
            MINIMAL_CHART, config.context
        )
        chart = Wizard("account.create_chart", config=config)
        chart.execute("account")
        chart.form.account_template = Model.get("account.account.template", config=config)(
            template_id
        )
        chart.form.company = Model.get("company.company", config=config)(company_id)
        chart.execute("create_account")
        receivable = _account(config, company_id, "receivable")
        payable = _account(config, company_id, "payable")
        revenue = _account(config, company_id, "revenue")
        expense = _account(config, company_id, "expense")
        chart.form.account_receivable = receivable
        chart.form.account_payable = payable
        chart.form.category_account_expense = expense
        chart.form.category_account_revenue = revenue
        chart.execute("create_properties")
        account_model = Model.get("account.account", config=config)
        (cash,) = account_model.find([("company", "=", company_id), ("code", "=", "1.1.1")])
        (tax_account,) = account_model.find([("company", "=", company_id), ("code", "=", "6.3.6")])

        fiscal_year = open_fiscal_year(config, company_id, year)

        tax = Model.get("account.tax", config=config)(
            name=f"VAT {tax_rate * 100:g}%",
            description=f"VAT {tax_rate * 100:g}%",
            type="percentage",
            rate=tax_rate,
            invoice_account=tax_account,
            credit_note_account=tax_account,
        )
        tax.save()
        category = Model.get("product.category", config=config)(name="After-sales products")
        category.accounting = True
        category.account_expense = expense
        category.account_revenue = revenue
        category.customer_taxes.append(tax)
        category.save()
        term = Model.get("account.invoice.payment_term", config=config)(name="Direct")
        term.lines.new(type="remainder")
        term.save()
    return Accounting(
        company_id=company_id,
        currency_code=_currency_code(config, company_id),
        fiscal_year_id=record_id(fiscal_year),
        receivable_account_id=record_id(receivable),
        revenue_account_id=record_id(revenue),
        expense_account_id=record_id(expense),
        cash_account_id=record_id(cash),
        tax_id=record_id(tax),
        payment_term_id=record_id(term),
        account_category_id=record_id(category),
    )


def _currency_code(config: Config, company_id: int) -> str:
    company = Model.get("company.company", config=config)(company_id)
    return str(company.currency.code)


def open_fiscal_year(config: Config, company_id: int, year: int) -> Any:
    """Fiscal year ``year`` of the company, with its monthly periods and one strict invoice
    sequence (Tryton numbers the invoices of a sequence in date order)."""
    company = Model.get("company.company", config=config)(company_id)
    sequence_type_model = Model.get("ir.sequence.type", config=config)
    strict_model = Model.get("ir.sequence.strict", config=config)
    (move_type,) = sequence_type_model.find([("name", "=", "Account Move")], limit=1)
    move_sequence = strict_model(name=f"Moves {year}", sequence_type=move_type, company=company)
    move_sequence.save()
    (invoice_type,) = sequence_type_model.find([("name", "=", "Invoice")], limit=1)
    invoice_sequence = strict_model(
        name=f"Invoices {year}", sequence_type=invoice_type, company=company
    )
    invoice_sequence.save()
    fiscal_year = Model.get("account.fiscalyear", config=config)(
        name=str(year),
        start_date=dt.date(year, 1, 1),
        end_date=dt.date(year, 12, 31),
        company=company,
        move_sequence=move_sequence,
    )
    (sequences,) = fiscal_year.invoice_sequences
    sequences.out_invoice_sequence = invoice_sequence
    sequences.in_invoice_sequence = invoice_sequence
    sequences.out_credit_note_sequence = invoice_sequence
    sequences.in_credit_note_sequence = invoice_sequence
    fiscal_year.save()
    fiscal_year.click("create_period")
    return fiscal_year


@attrs.define
class WorldBuilder:
    """Adds the customers and products a test or the demo needs (Tryton ids back)."""

    config: Config
    accounting: Accounting

    def customer(self, name: str, *, email: str | None = None) -> int:
        """A party with an invoice address (and an e-mail contact when given)."""
        if not name.strip():
            raise InvalidInput("name", name, "a customer needs a name")
        with translated("create a customer"):
            party = Model.get("party.party", config=self.config)(name=name)
            if email is not None:
                party.contact_mechanisms.new(type="email", value=email)
            party.save()
        return record_id(party)

    def product(
        self,
        name: str,
        price: Decimal,
        *,
        kind: Literal["goods", "service"] = "goods",
        salable: bool = True,
    ) -> int:
        """A product (its variant's id) sold at ``price``, in units, taxed by the category."""
        if not isinstance(price, Decimal) or price < 0:
            raise InvalidInput("price", price, "a price is a Decimal >= 0")
        with translated("create a product"):
            (unit,) = Model.get("product.uom", config=self.config).find([("name", "=", "Unit")])
            template = Model.get("product.template", config=self.config)(
                name=name, default_uom=unit, type=kind, list_price=price
            )
            template.salable = salable
            template.account_category = Model.get("product.category", config=self.config)(
                self.accounting.account_category_id
            )
            template.save()
            (product,) = template.products
        return record_id(product)
