"""The team settings page (install plan, trial warning), the repair dialog it turns on, and
the locked database once the trial has run out: in headless Chromium, on a database of its
own (this module moves the clock)."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.remote.webdriver import WebDriver

from .conftest import Server
from .pages import Page


def test_settings_repairs_and_the_locked_database(
    browser: WebDriver, server: Server, screenshots: Path
) -> None:
    page = Page(browser, server.url, screenshots)
    try:
        page.login("agent")
        assert "Repair" not in page.actions()

        # the manager plans turning repairs on: what it installs, and the trial warning
        page.login("manager", then="/teams/1/settings")
        assert page.text("#subscription") == "free"
        installed = {
            m.get_attribute("data-module"): m.text for m in page.all("#installed-modules li")
        }
        assert installed["helpdesk_account"] == "Helpdesk Refunds (helpdesk_account) · refunds"
        assert installed["account"] == "Invoicing (account) · application"
        assert "repair" not in installed
        page.follow("#plan-repairs")
        assert [m.text for m in page.all("#plan-modules li")] == [
            "repair (application)",
            "helpdesk_repair",
        ]
        warning = page.text("#plan-warning")
        assert "starts a trial that ends on 2026-12-13" in warning
        assert "the database will be locked" in warning
        page.shot("settings-plan")
        page.click("#service-repairs")
        page.follow("#settings-save")
        assert page.text("#subscription") == "trial"
        assert page.text("#trial-ends") == "(trial ends 2026-12-13)"
        assert page.find("#service-repairs").is_selected()
        assert page.find("#installed-modules li[data-module=helpdesk_repair]").text == (
            "Helpdesk Repairs (helpdesk_repair) · repairs"
        )

        # the repair dialog: the ticket's product pre-filled, parts, operations, notes
        page.login("agent")
        assert "Repair" in page.actions()
        page.action("Repair")
        product = page.find("#repair-product option:checked").text
        assert product == "Blender"
        assert page.find("#repair-sale-order").get_attribute("value")
        page.fill("#repair-description", "Motor burnt out")
        page.select("#repair-invoice-method", "after_repair")
        page.select("#repair-part", "Motor")
        page.fill("#repair-part-qty", "1")
        page.select("#repair-operation", "Repair labour")
        page.fill("#repair-op-qty", "2")
        page.fill("#repair-internal", "Check the warranty")
        page.fill("#repair-quotation-notes", "Parts guaranteed 6 months")
        page.shot("repair-dialog")
        page.follow("#repair-create")
        assert page.text("#repair-state") == "draft"
        assert page.text("#repair-method") == "after_repair"
        assert len(page.all("#repair-lines tr")) == 3  # header, a part, an operation
        # 12.00 + 2 x 30.00 = 72.00, with 21 % tax: 87.12, formatted for en_US
        assert page.text("#repair-total") == "€87.12"
        pdf = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(document.getElementById('quotation-pdf').href)"
            ".then(r => r.arrayBuffer().then(b => done([r.headers.get('content-type'),"
            " String.fromCharCode(...new Uint8Array(b.slice(0, 5)))])));"
        )
        assert pdf == ["application/pdf", "%PDF-"]
        page.shot("repair")
        page.open("/tickets/1")
        assert page.count("repairs") == 1

        # the trial runs out with no subscription: every page shows the lock
        server.clock.set("2026-12-14T09:00:00+00:00")
        page.open("/tickets/1")
        code, status, message = page.refusal()
        assert (code, status) == ("database_locked", 423)
        assert "2026-12-13" in message
        page.shot("locked")
    finally:
        browser.delete_all_cookies()
