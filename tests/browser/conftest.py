"""Fixtures of the browser tests: the real engines (the integration tests' own fixtures), the API
served on a free port as `pantau up` serves it, and a headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

from api.auth import KeyStore, Role
from service.engines import free_port
from service.runtime import ApiServer

# The engines and the harness, exactly as the integration tests get them.
from tests.integration.conftest import harness, settings  # noqa: F401
from tests.integration.harness import Harness
from tests.integration.test_api import api_for

# The system's Chromium (a distribution package), not a browser Playwright downloads for itself.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Where the desk and wall screenshots go: docs/images when scripts/screenshots.py asks for them.
SCREENSHOT_DIR_VARIABLE = "PANTAU_SCREENSHOT_DIR"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)
            if CHROMIUM is None:
                item.add_marker(pytest.mark.skip(reason="no chromium on PATH (install the chromium package)"))


@dataclass
class Desk:
    """The API on a free port, with a responder's key and a viewer's key."""

    url: str
    harness: Harness
    responder_key: str
    viewer_key: str


@pytest.fixture
async def desk(harness: Harness) -> AsyncIterator[Desk]:  # noqa: F811
    keys = KeyStore(harness.redis)
    _, responder = await keys.add("ana", Role.responder)
    _, viewer = await keys.add("budi", Role.viewer)
    port = free_port()
    server = ApiServer(api_for(harness), "127.0.0.1", port)
    await server.start()
    try:
        yield Desk(f"http://127.0.0.1:{port}/", harness, responder, viewer)
    finally:
        await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageProblems:
    """What went wrong inside the page: uncaught errors, and anything the CSP blocked."""

    found: list[str] = field(default_factory=list)

    def on_error(self, error: Error) -> None:
        self.found.append(f"uncaught: {error}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.found.append(f"blocked: {message.text}")


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh English-speaking tab (its own session storage) that fails the test on a page error."""
    context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    problems = PageProblems()
    opened.on("pageerror", problems.on_error)
    opened.on("console", problems.on_console)
    yield opened
    await context.close()
    assert problems.found == []


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    configured = os.environ.get(SCREENSHOT_DIR_VARIABLE)
    folder = Path(configured) if configured else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
