"""What the browser tests share: Debian's chromium driven by Playwright (never `playwright install`: it downloads a
browser), a tab on a page of the running API, and where screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> Any:
    """Playwright's sync API; skips the calling test module when Playwright or Debian's chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="install the dev extra (playwright) for browser tests")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return sync_api


def screenshots_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$VEHICLEWATCH_SCREENSHOTS`` when set (the docs' screenshots), else a temporary folder."""
    folder = Path(os.environ.get("VEHICLEWATCH_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def browser_tab(url: str, timeout_ms: int) -> Iterator[Any]:
    """A headless chromium tab opened on ``url`` (1280×900), every wait bounded by ``timeout_ms``."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=["--no-sandbox", "--disable-gpu"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(timeout_ms)
            tab = context.new_page()
            tab.goto(url)
            yield tab
        finally:
            browser.close()
