"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, and a real uvicorn on loopback.

The browser is the system one, ``/usr/bin/chromium`` (tools/install_system_deps.sh
installs it); Playwright's own browser download (``playwright install``) is never
used. When the browser or Playwright is missing, or Chromium cannot start, the
tests FAIL with a message saying so: a browser check that quietly skips is no check.

Artefacts (full-page screenshots) go to ``test-results/browser/`` under the
repository root (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LAUNCH_TIMEOUT_MS = 30_000   # Chromium's start
ACTION_TIMEOUT_MS = 10_000   # every click, fill, wait and navigation: a hang fails, it does not stall the run


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1, port 0, in a thread; yields the base URL (no trailing slash)."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                            access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="browser-test-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop within 10 s"


@pytest.fixture(scope="session")
def artefacts(request: pytest.FixtureRequest) -> Path:
    d = Path(request.config.rootpath) / "test-results" / "browser"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the session, with a fresh, empty user-data dir."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (command -v chromium: {found or 'nothing'}); "
                    "run tools/install_system_deps.sh (Debian package 'chromium')", pytrace=False)
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright for Python is not installed ({exc}); pip install -e '.[test]'", pytrace=False)
    user_data = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("chromium-downloads")
    pw = sync_playwright().start()
    try:
        try:
            ctx = pw.chromium.launch_persistent_context(
                str(user_data), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                timeout=LAUNCH_TIMEOUT_MS, accept_downloads=True, downloads_path=str(downloads),
                locale="ru-RU", timezone_id="Europe/Moscow", viewport={"width": 1200, "height": 800})
        except PlaywrightError as exc:
            pytest.fail(f"Chromium ({CHROMIUM}) could not be started by Playwright: {exc}", pytrace=False)
        ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        ctx.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        try:
            yield ctx
        finally:
            ctx.close()
    finally:
        pw.stop()


@pytest.fixture
def new_page(browser_context: Any) -> Iterator[Callable[[str], Any]]:
    """``new_page(base_url)``: a fresh tab that records JS errors and any request leaving ``base_url``.

    At teardown: no script error happened and the pages asked nothing of any other origin.
    """
    pages: list[Any] = []
    problems: list[str] = []

    def make(base_url: str) -> Any:
        page = browser_context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("request", lambda req: None if req.url.startswith(base_url + "/") or req.url.startswith("data:")
                else problems.append(f"request outside the site: {req.url}"))
        pages.append(page)
        return page

    yield make
    for p in pages:
        p.close()
    assert problems == []
