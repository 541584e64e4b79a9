"""A real browser for the console tests: Debian's ``chromium`` driven by ``chromium-driver``
through selenium. ``.ci/run`` installs both where they are missing; where no browser can be
had, the tests are skipped with a message that says what to install."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")


def chromium(profile: Path) -> Any:
    """A headless Chromium with a fresh profile, or a skip saying why there is none."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    binary = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver" if os.path.exists("/usr/lib/chromium/chromedriver")
        else None)
    if binary is None or driver is None:
        pytest.skip("no browser: install Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # The driver binary is given: selenium must not try to download one.
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def wait_for(browser: Any, predicate: Callable[[], Any], what: str, timeout: float = 120,
             refresh: bool = False) -> Any:
    """Wait on a condition of the page (reloading it between looks when ``refresh``)."""
    deadline = time.time() + timeout
    while True:
        try:
            found = predicate()
        except Exception:  # an element not there yet
            found = None
        if found:
            return found
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(page {browser.current_url})")
        time.sleep(0.5)
        if refresh:
            browser.refresh()


def screenshot(browser: Any, name: str, folder: Path, width: int = 1280) -> None:
    """Save a full-height screenshot of the page (the docs' pictures come from here)."""
    folder.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(width, 1000)
    height = browser.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    browser.set_window_size(width, min(max(int(height) + 40, 700), 4000))
    browser.save_screenshot(str(folder / f"{name}.png"))
    browser.set_window_size(1280, 1000)
