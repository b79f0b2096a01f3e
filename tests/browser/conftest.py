"""Fixtures of the browser tests: headless Chromium (or a clean skip), the app on a loopback port."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from service.app import create_app
from service.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; skipped where the Debian package is absent.

    Package-scoped: Playwright's sync API keeps an event loop running in the main thread while
    it is open, which would break every asyncio test collected after this package.
    """
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield instance
        instance.close()


@pytest.fixture(scope="package")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """toxhooks in development mode on a free loopback port; yields its base URL.

    Depends on `browser` so that nothing starts where the tests are skipped.
    """
    database = tmp_path_factory.mktemp("browser-db") / "toxhooks.db"
    port = _free_port()
    settings = Settings(
        dev=True,
        database_url=f"sqlite+aiosqlite:///{database}",
        log_json=False,
        public_base_url=f"http://127.0.0.1:{port}",  # so cards carry the SMART timeline link
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("toxhooks did not start for the browser tests")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@dataclass
class Tab:
    """A browser page and the script errors and console errors it logged."""

    page: Any
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh browser page in its own context (own sessionStorage)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    result = Tab(page=context.new_page())
    result.page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    result.page.on("console", lambda msg: result.errors.append(msg.text) if msg.type == "error" else None)
    yield result
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are saved (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
