"""The ticket page as an agent sees it, driven in headless Chromium: the buttons, the smart
buttons' counts and a dialog per service, with the refusals the page shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from .conftest import Server
from .pages import Page


@pytest.fixture
def page(browser: WebDriver, server: Server, screenshots: Path) -> Iterator[Page]:
    page = Page(browser, server.url, screenshots)
    page.login("agent")
    yield page
    browser.delete_all_cookies()


def test_the_ticket_shows_the_buttons_its_team_allows(page: Page) -> None:
    assert page.text("h1") == "#1 Blender broken"
    assert page.text("#customer") == "Ana Pérez"
    # repairs are off for the team: no Repair button
    assert page.actions() == ["Refund", "Coupon", "Return", "Create task"]
    assert [page.count(n) for n in ("credit-notes", "coupons", "returns", "tasks")] == [0] * 4
    page.shot("ticket")


def test_a_paid_invoice_offers_only_a_partial_refund(page: Page) -> None:
    page.action("Refund")
    invoices = page.options("#refund-invoice")
    # amounts formatted for the agent's locale (Babel, en_US)
    assert invoices == [
        "INV/2026/00002 — €0.00 due · paid",
        "INV/2026/00001 — €145.08 due · not_paid",
    ]
    assert page.options("#refund-method") == ["partial"]  # the first one is paid
    page.select("#refund-invoice", invoices[1])
    page.find("#refund-method[data-invoice]")  # the options were replaced for this invoice
    assert page.options("#refund-method") == ["partial", "full", "full_and_reinvoice"]
    page.select("#refund-invoice", invoices[0])
    page.find("#refund-method[data-invoice]")
    assert page.options("#refund-method") == ["partial"]
    page.shot("refund-dialog")


def test_a_partial_refund_is_reversed_edited_and_confirmed(page: Page) -> None:
    page.action("Refund")
    page.select("#refund-invoice", "INV/2026/00001 — €145.08 due · not_paid")
    page.find("#refund-method[data-invoice]")
    page.select("#refund-method", "partial")
    page.fill("#refund-reason", "Blender broken")
    page.follow("#refund-reverse")
    assert page.text("#cn-state") == "draft"
    quantities = page.all(".cn-qty")
    assert [q.get_attribute("value") for q in quantities] == ["2", "1"]
    page.fill(".cn-qty", "1")  # refund one blender of two
    page.fill("input[name=quantity_1]", "0")  # and not the kettle
    page.follow("#cn-save")
    assert [q.get_attribute("value") for q in page.all(".cn-qty")] == ["1"]
    page.shot("credit-note-draft")
    page.follow("#cn-confirm")
    assert page.text("#note").startswith("Credit note RINV/2026/")
    assert page.count("credit-notes") == 1
    # the view's labels, not its keys
    rows = [r.text for r in page.all("#documents tr")][1:]
    assert rows[0].startswith("Credit note RINV/2026/00001 Posted")
    page.shot("ticket-after-refund")


def test_a_coupon_is_generated_copied_and_sent_with_extra_recipients(page: Page) -> None:
    page.action("Coupon")
    assert page.options("#coupon-program") == ["10% after-sales apology"]
    page.follow("#coupon-generate")
    code = page.text("#coupon-code")
    assert code
    page.click("#coupon-copy")
    assert page.find("#copied").is_displayed()
    page.fill("#coupon-extra", "boss@perez.example")
    page.follow("#coupon-send")
    sent = page.text("#coupon-sent")
    assert "ana@perez.example" in sent and "boss@perez.example" in sent
    page.shot("coupon-sent")
    page.open("/tickets/1")
    assert page.count("coupons") == 1


def test_a_return_above_what_was_delivered_is_refused_and_changes_nothing(page: Page) -> None:
    page.action("Return")
    assert page.options("#return-delivery") == ["WH/OUT/00001"]
    blender = page.find(".return-form:not([hidden]) .return-qty[data-product=Blender]")
    assert blender.get_attribute("value") == "2"  # defaulted to what is left to return
    blender.clear()
    blender.send_keys("5")
    page.follow(".return-form:not([hidden]) .return-create")
    code, status, message = page.refusal()
    assert (code, status) == ("quantity_exceeded", 422)
    assert "asked 5 Units" in message and "2 Units" in message
    page.shot("return-refused")
    page.open("/tickets/1")
    assert page.count("returns") == 0


def test_a_return_with_edited_quantities(page: Page) -> None:
    page.action("Return")
    page.fill(".return-form:not([hidden]) .return-qty[data-product=Blender]", "1")
    page.fill(".return-form:not([hidden]) .return-qty[data-product=Kettle]", "0")
    page.follow(".return-form:not([hidden]) .return-create")
    assert page.text("#note").startswith("Return ")
    assert page.count("returns") == 1
    page.action("Return")
    blender = page.find(".return-form:not([hidden]) .return-qty[data-product=Blender]")
    assert blender.get_attribute("value") == "1"  # one left to return
    page.shot("return-dialog")


def test_field_service_tasks_created_and_followed_on_the_portal(page: Page) -> None:
    page.action("Create task")
    assert page.find("#task-title").get_attribute("value") == "Blender broken"
    assert page.text("#task-project")  # the team's project
    page.shot("task-dialog")
    page.follow("#task-create")
    assert page.text("#note") == "Task Blender broken created"
    page.action("Create task")
    page.fill("#task-title", "Visit to check the blender")
    page.follow("#task-create-view")
    assert page.text("#task-name") == "Visit to check the blender"
    page.open("/tickets/1")
    assert page.count("tasks") == 2
    page.login("ana", then="/portal")
    rows = [r.text for r in page.all("#portal-tasks tr")][1:]
    assert len(rows) == 2 and all(r.startswith("#1 ") for r in rows)
    assert any("Visit to check the blender" in r for r in rows)
    page.shot("portal")


def _open_document(page: Page, kind: str) -> None:
    page.open("/tickets/1")
    page.follow(f"#documents a.doc-link[data-kind={kind}]")


def test_each_linked_document_opens_its_page_through_the_ticket(page: Page) -> None:
    _open_document(page, "credit_note")
    assert page.text("#cn-number") == "RINV/2026/00001"
    assert page.text("#cn-state") == "posted"
    assert page.text("#cn-total") == "€60.44"  # one blender of 49.95 with 21 % tax
    assert page.text("#cn-payment") == "Paid"
    assert page.text("#cn-residual") == "€0.00"
    assert page.text("#cn-reference").startswith("Reversal of: INV/2026/00001")
    assert not page.all("#cn-save")  # a posted credit note is read, not edited
    page.shot("credit-note-posted")
    _open_document(page, "return")
    assert page.text("#return-reference").startswith("WH/RET/")
    assert page.text("#return-state") == "Ready"
    assert [r.text for r in page.all("#return-lines tr")][1:] == ["Blender 1 Units confirmed"]
    page.shot("return")
    _open_document(page, "task")
    assert page.text("#task-name") == "Blender broken"
    assert page.text("#task-project-name") == "Field Service"


def test_a_document_is_read_only_as_the_kind_it_is_linked_as(page: Page, server: Server) -> None:
    page.open("/tickets/1")
    link = page.find("#documents a.doc-link[data-kind=return]").get_attribute("href")
    assert link is not None
    return_id = link.removeprefix(f"{server.url}/returns/").split("?")[0]
    page.open(f"/invoices/{return_id}?ticket=1")
    code, status, message = page.refusal()
    assert (code, status, message) == ("not_found", 404, f"invoice {return_id} does not exist")


def test_an_agent_without_billing_rights(page: Page, browser: WebDriver) -> None:
    page.login("helpdesk-only")
    assert "Refund" not in page.actions()
    # rights taken away while the dialog was open: the refusal is shown, nothing made
    page.login("agent")
    before = page.count("credit-notes")
    page.action("Refund")
    browser.add_cookie({"name": "user", "value": "helpdesk-only"})
    page.follow("#refund-reverse")
    code, status, message = page.refusal()
    assert (code, status) == ("access_denied", 403)
    assert "billing" in message
    page.shot("refund-refused")
    page.login("agent")
    assert page.count("credit-notes") == before  # nothing was made


def test_an_unknown_ticket_or_document_is_a_not_found_page(page: Page) -> None:
    page.open("/tickets/99")
    assert page.refusal()[:2] == ("not_found", 404)
    page.open("/credit-notes/nope?ticket=1")
    code, status, message = page.refusal()
    assert (code, status, message) == ("not_found", 404, "invoice nope does not exist")
    page.shot("not-found")


def test_signing_in_never_redirects_to_another_site(page: Page, server: Server) -> None:
    page.open("/login/agent?next=//example.com/")
    assert page.browser.current_url == f"{server.url}/tickets/1"
