"""What the tests do with a page: open it as a user, read it, screenshot it."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait


class Page:
    """A browser on the helpdesk at `url`."""

    def __init__(self, browser: WebDriver, url: str, screenshots: Path) -> None:
        self.browser = browser
        self.url = url
        self.screenshots = screenshots

    def login(self, user: str, then: str = "/tickets/1") -> None:
        self.browser.get(f"{self.url}/login/{user}?next={then}")
        assert self.text("#user") == user

    def open(self, path: str) -> None:
        self.browser.get(self.url + path)

    def find(self, css: str) -> WebElement:
        return self.browser.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.browser.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def click(self, css: str) -> None:
        self.find(css).click()

    def follow(self, css: str) -> None:
        """Click `css`, a link or submit button, and wait until the next page replaced this one
        (reading before then would read the old page)."""
        old = self.find("html")
        self.click(css)
        WebDriverWait(self.browser, 10).until(staleness_of(old))

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def select(self, css: str, visible_text: str) -> None:
        Select(self.find(css)).select_by_visible_text(visible_text)

    def options(self, css: str) -> list[str]:
        return [o.text for o in Select(self.find(css)).options]

    def action(self, label: str) -> None:
        """Click the ticket's after-sales button `label`, opening its dialog."""
        button = next(b for b in self.all("#actions button") if b.text == label)
        button.click()
        assert self.find(f"#{button.get_attribute('data-dialog')}").is_displayed()

    def actions(self) -> list[str]:
        return [b.text for b in self.all("#actions button")]

    def count(self, name: str) -> int:
        return int(self.text(f"#count-{name} b"))

    def refusal(self) -> tuple[str, int, str]:
        """The refusal the page shows: code, HTTP status, message."""
        error = self.find("#error")
        return (
            str(error.get_attribute("data-code")),
            int(str(error.get_attribute("data-status"))),
            self.text("#error-message"),
        )

    def shot(self, name: str) -> Path:
        png = self.screenshots / f"{name}.png"
        assert self.browser.save_screenshot(str(png)), name
        return png
