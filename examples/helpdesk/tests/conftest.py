"""The browser tests' tooling: the helpdesk served by uvicorn in a thread on a free port (a
fresh database per test module) and one headless Chromium per session (Debian's chromium
and chromedriver; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.remote.webdriver import WebDriver

from aftersales.clock import FrozenClock
from examples.helpdesk.app import create_app
from examples.helpdesk.host import DEMO_START, Helpdesk, open_helpdesk

ROOT = Path(__file__).resolve().parents[3]


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@attrs.frozen
class Server:
    """The helpdesk as the browser reaches it, and its clock (tests move time)."""

    url: str
    helpdesk: Helpdesk
    clock: FrozenClock


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    clock = FrozenClock(DEMO_START)
    helpdesk = open_helpdesk(tmp_path_factory.mktemp("helpdesk"), clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them: no polling
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(helpdesk), log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield Server(url=f"http://127.0.0.1:{port}", helpdesk=helpdesk, clock=clock)
    finally:
        running.should_exit = True
        thread.join(timeout=30)
        sock.close()
        helpdesk.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    chromium = _binary("chromium", "chromium-browser")
    driver_binary = _binary("chromedriver")
    if chromium is None or driver_binary is None:
        if os.environ.get("AFTERSALES_REQUIRE_CHROMIUM"):
            pytest.fail("AFTERSALES_REQUIRE_CHROMIUM is set but chromium/chromedriver is missing")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=ChromeService(driver_binary))
    driver.implicitly_wait(5)  # waits for an element to appear; never a fixed sleep
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """`$CI_ARTIFACTS/web/` (default /tmp/aftersales-artifacts/web/), outside the repository."""
    folder = Path(os.environ.get("CI_ARTIFACTS") or "/tmp/aftersales-artifacts") / "web"
    folder.mkdir(parents=True, exist_ok=True)
    assert ROOT not in folder.resolve().parents, "screenshots stay outside the repository"
    return folder
