"""A `Builder` whose ERP data is Tryton's: parties, products, invoices, deliveries,
projects and coupon programs made in Tryton.

The host's records (a customer as a `Partner`, a product as a `Product`) are also put in
the store the application takes its helpdesk and sales ports from (`store`, another
backend's builder), with the ids Tryton gave them (``str`` of the Tryton id): that is how a
helpdesk and Tryton name the same customer. For tests and the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from proteus import Model, Wizard

from aftersales.builder import Builder, InvoiceLineSpec
from aftersales.errors import InvalidInput
from aftersales.models import (
    CouponProgram,
    CouponRule,
    Invoice,
    Partner,
    Picking,
    Product,
    ProgramTrigger,
    ProgramType,
    Project,
    Reward,
    RewardKind,
    SaleOrder,
)
from aftersales_tryton._values import decimal, record_id
from aftersales_tryton.accounting import _comment
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.errors import translated
from aftersales_tryton.loyalty import create_program
from aftersales_tryton.modules import activate
from aftersales_tryton.tasks import add_task_statuses
from aftersales_tryton.userwarnings import call_acknowledging, warning_name
from aftersales_tryton.world import Accounting, WorldBuilder

__all__ = ["TrytonBuilder"]


class TrytonBuilder(Builder):
    """Makes customers, products and invoices in Tryton through `erp`; the rest (teams,
    tickets, ...) and copies of the host's records go to `store`."""

    def __init__(self, erp: TrytonBackend, accounting: Accounting, store: Builder) -> None:
        super().__init__(store.clock)
        self.erp = erp
        self.store = store
        self._world = WorldBuilder(erp.config, accounting)

    def put(self, record: object) -> None:
        self.store.put(record)

    def next_number(self, code: str) -> int:
        return self.store.next_number(code)

    def install(self, *modules: str) -> None:
        self.store.install(*modules)

    def company(self, *, name: str, email: str | None = None) -> Partner:
        pid = str(self._world.customer(name, email=email))
        partner = Partner(id=pid, name=name, email=email, commercial_entity_id=pid, is_company=True)
        self.put(partner)
        return partner

    def customer(
        self,
        *,
        name: str,
        email: str | None = None,
        company: Partner | None = None,
        delivery_address: bool = False,
    ) -> Partner:
        if delivery_address:
            raise InvalidInput("delivery_address", True, "not made in Tryton by this builder")
        pid = str(self._world.customer(name, email=email))
        entity = company.commercial_entity_id if company else pid
        partner = Partner(id=pid, name=name, email=email, commercial_entity_id=entity)
        self.put(partner)
        return partner

    def product(
        self, *, name: str, price: Decimal, currency: str = "EUR", **more: object
    ) -> Product:
        made = super().product(name=name, price=price, currency=currency, **more)  # type: ignore[arg-type]
        tryton_id = self._world.product(name, price)
        if made.uom != "Units" or made.uom_digits:
            template = Model.get("product.product", config=self.erp.config)(tryton_id).template
            template.default_uom = self._uom(made.uom, made.uom_digits)
            template.save()
        self._tax_products(tryton_id, made)
        product = Product(
            id=str(tryton_id),
            name=made.name,
            kind=made.kind,
            price=made.price,
            taxes=made.taxes,
            uom=made.uom,
            uom_digits=made.uom_digits,
        )
        self.put(product)
        return product

    def _tax_products(self, product_id: int, made: Product) -> None:
        """Give the Tryton product the library product's taxes as its defaults (through an
        account category with those customer taxes), so Tryton posts its lines as they are."""
        config = self.erp.config
        key = ", ".join(t.name for t in made.taxes) or "no tax"
        category_model = Model.get("product.category", config=config)
        name = f"After-sales products ({key})"
        found = category_model.find([("name", "=", name)], limit=1)
        if found:
            category = found[0]
        else:
            (category,) = category_model(self._world.accounting.account_category_id).duplicate(
                default={"name": name}
            )
            while category.customer_taxes:
                category.customer_taxes.pop()
            for tax in self.erp._taxes(made.taxes):
                category.customer_taxes.append(tax)
            category.save()
        product = Model.get("product.product", config=config)(product_id)
        template = product.template
        template.account_category = category
        template.save()

    def _uom(self, symbol: str, digits: int) -> Any:
        """Tryton's unit of measure of `symbol` ("Units" is Tryton's Unit), shown to
        `digits` digits (the test world rounds its units as the library product does)."""
        config = self.erp.config
        uom_model = Model.get("product.uom", config=config)
        domain = [("name", "=", "Unit")] if symbol == "Units" else [("symbol", "=", symbol)]
        found = uom_model.find(domain, limit=1)
        if not found:
            raise InvalidInput("uom", symbol, "no Tryton unit of measure of that symbol")
        (uom,) = found
        if int(uom.digits) < digits:
            uom.digits = digits
            uom.rounding = float(Decimal(1).scaleb(-digits))
            uom.save()
        return uom

    def delivery(
        self,
        *,
        customer: Partner,
        lines: Sequence[tuple[Product, Decimal | int]],
        done: bool = True,
        sale_order: SaleOrder | None = None,
    ) -> Picking:
        """A customer shipment of the warehouse ``WH`` made in Tryton: waiting, or (`done`)
        with the goods first received from a supplier, then assigned, picked, packed and
        done (Tryton's warning on moves to a customer without an origin acknowledged)."""
        if sale_order is not None:
            raise InvalidInput("sale_order", sale_order.id, "sale orders are not wired to Tryton")
        if not lines:
            raise InvalidInput("lines", lines, "a delivery needs at least one line")
        config = self.erp.config
        location_model = Model.get("stock.location", config=config)
        (warehouse,) = location_model.find([("code", "=", "WH")])
        (customer_location,) = location_model.find([("code", "=", "CUS")])
        (supplier,) = location_model.find([("code", "=", "SUP")])
        company = Model.get("company.company", config=config)(config.context["company"])
        product_model = Model.get("product.product", config=config)
        shipment = Model.get("stock.shipment.out", config=config)()
        shipment.customer = Model.get("party.party", config=config)(int(customer.id))
        shipment.warehouse = warehouse
        for product, quantity in lines:
            record = product_model(int(product.id))
            move = shipment.outgoing_moves.new()
            move.product = record
            move.unit = record.default_uom
            move.quantity = float(quantity)
            move.from_location = warehouse.output_location
            move.to_location = customer_location
            move.unit_price = product.price.amount
            move.currency = company.currency
        with translated("make a delivery"):
            shipment.save()
            shipment.click("wait")
        if done:
            for product, quantity in lines:
                record = product_model(int(product.id))
                stock = Model.get("stock.move", config=config)()
                stock.product = record
                stock.unit = record.default_uom
                stock.quantity = float(quantity)
                stock.from_location = supplier
                stock.to_location = warehouse.storage_location
                stock.unit_price = product.price.amount
                stock.currency = company.currency
                with translated("receive the goods of a delivery"):
                    stock.click("do")
            for button in ("assign_try", "pick", "pack", "do"):
                self._click(shipment, button)
        picking = self.erp.aftersales_stock_get_picking(f"out:{record_id(shipment)}", False)
        assert picking is not None
        return picking

    def _click(self, shipment: Any, button: str) -> None:
        """Click `button` of a customer shipment, acknowledging Tryton's warning about its
        moves to the customer that have no origin (made by hand here, not from a sale)."""
        shipment.reload()
        ids = sorted(record_id(m) for m in shipment.outgoing_moves)
        call_acknowledging(
            self.erp.config,
            lambda: shipment.click(button),
            operation=f"{button} delivery {shipment.number}",
            accepted=[warning_name("done", [("stock.move", m) for m in ids])],
        )

    def project(self, *, name: str, fsm: bool = True, portal_visible: bool = True) -> Project:
        """A Tryton project (a work of type ``project``) and the task statuses the stages
        need; `fsm` and `portal_visible` are kept in its comment. Tryton's ``project``
        module is activated first when the database does not have it (a project must exist
        before field service can be turned on on a team)."""
        config = self.erp.config
        activate(config, ["project"])  # nothing to do when the database has it
        add_task_statuses(config)
        flags = {"fsm": "yes" if fsm else None, "portal": "yes" if portal_visible else None}
        with translated("create a project"):
            work = Model.get("project.work", config=config)(type="project", name=name)
            work.comment = _comment(flags) or None
            work.save()
        project = self.erp.aftersales_project_get_project(str(record_id(work)))
        assert project is not None
        return project

    def coupon_program(
        self,
        *,
        name: str,
        reward: Reward | None = None,
        rules: Sequence[CouponRule] = (),
        currency: str = "EUR",
        active: bool = True,
        date_to: date | None = None,
        max_usage: int | None = None,
        code: str | None = None,
        program_type: ProgramType = ProgramType.COUPONS,
        trigger: ProgramTrigger = ProgramTrigger.CODE,
    ) -> CouponProgram:
        """A promotion made in Tryton (with a coupon rule when triggered by a code); what a
        promotion cannot express is refused (`aftersales_tryton.loyalty.create_program`)."""
        wanted = CouponProgram(
            id="new",
            name=name,
            currency=currency,
            rewards=(reward or Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10)),),
            rules=tuple(rules),
            active=active,
            date_to=date_to,
            max_usage=max_usage,
            code=code,
            program_type=program_type,
            trigger=trigger,
        )
        return create_program(self.erp.config, wanted)

    def sale_order(self, *, customer: Partner, name: str | None = None) -> SaleOrder:
        raise InvalidInput("sale_order", name, "sale orders are not wired to Tryton's sales yet")

    def invoice(
        self,
        *,
        customer: Partner,
        lines: Sequence[InvoiceLineSpec],
        posted: bool = True,
        paid: Decimal | bool = False,
        currency: str | None = None,
        sale_order: SaleOrder | None = None,
        invoice_date: date | None = None,
    ) -> Invoice:
        """A customer invoice made (and posted) in Tryton; Tryton numbers it."""
        if sale_order is not None:
            raise InvalidInput("sale_order", sale_order.id, "sale orders are not wired to Tryton")
        if paid is not False and not posted:
            raise InvalidInput("paid", paid, "only a posted invoice can be paid")
        if not lines:
            raise InvalidInput("lines", lines, "an invoice needs at least one line")
        cur = currency or lines[0][0].price.currency
        config = self.erp.config
        invoice = Model.get("account.invoice", config=config)(type="out")
        invoice.party = Model.get("party.party", config=config)(int(customer.id))
        invoice.invoice_date = (invoice_date or self._now().date()) if posted else invoice_date
        for spec in lines:
            line_spec = self._line(spec, cur)
            line = invoice.lines.new()
            line.product = Model.get("product.product", config=config)(int(spec[0].id))
            line.description = line_spec.description
            line.quantity = line_spec.quantity
            line.unit_price = line_spec.unit_price.amount
            while line.taxes:
                line.taxes.pop()
            for tax in self.erp._taxes(line_spec.taxes):
                line.taxes.append(tax)
        invoice.save()
        if posted:
            self.erp._post(invoice)
        if paid is not False:
            self._pay_in_tryton(invoice, None if paid is True else paid)
        return self.erp._read(record_id(invoice))

    def _pay_in_tryton(self, invoice: Any, amount: Decimal | None) -> None:
        """Pay `invoice` (in full when `amount` is None) through Tryton's
        ``account.invoice.pay`` wizard, in cash."""
        config = self.erp.config
        method_model = Model.get("account.invoice.payment.method", config=config)
        methods = method_model.find([("name", "=", "After-sales cash")], limit=1)
        if methods:
            method = methods[0]
        else:
            (journal,) = Model.get("account.journal", config=config).find(
                [("type", "=", "cash")], limit=1
            )
            cash = Model.get("account.account", config=config)(
                self._world.accounting.cash_account_id
            )
            method = method_model(name="After-sales cash", journal=journal)
            method.credit_account = cash
            method.debit_account = cash
            method.save()
        total = decimal(invoice.amount_to_pay)
        wanted = total if amount is None else amount
        if not Decimal(0) < wanted <= total:
            raise InvalidInput("paid", amount, f"must be more than 0 and at most {total}")
        with translated(f"pay invoice {record_id(invoice)}"):
            pay = Wizard("account.invoice.pay", [invoice], config=config)
            pay.form.payment_method = method
            pay.form.amount = wanted
            pay.form.date = invoice.invoice_date
            pay.execute("choice")
            if wanted < total:
                pay.form.type = "partial"
                pay.execute("pay")
