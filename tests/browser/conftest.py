"""``ppstack demo``'s three days loaded once, served by ``ppstack serve``'s server, for the
change-feed acceptance test and the browser tests (headless Chromium from Debian's packages)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ppstack.api import local_server
from ppstack.demo import run_demo
from ppstack.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Flags for a closed network and a throwaway profile: nothing phones home, nothing persists.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


@dataclass
class Demo:
    base_url: str
    batches: list[dict[str, Any]]  # the demo's batch reports, one per day
    scenario: dict[str, Any]  # scenario.json the demo derived (what each day changed)


@pytest.fixture(scope="session")
def demo(dynalite_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("demo-home") / "home"
    settings = load_settings(backend="local", home=str(home), dynamodb_endpoint=dynalite_endpoint,
                             dynamodb_table=f"demo-{uuid.uuid4().hex[:12]}")
    result = run_demo(settings, serve=False, port=0, echo=lambda _: None,
                      progress=lambda _: None)
    scenario = json.loads((home / "scenario" / "scenario.json").read_text())
    base_url, shutdown = local_server.serve_in_thread(settings, port=0, log_stream=io.StringIO())
    yield Demo(base_url, result.batches, scenario)
    shutdown()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save screenshots: $PPSTACK_SCREENSHOTS or a temporary folder."""
    target = os.environ.get("PPSTACK_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _missing_browser() -> str | None:
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (Path(exe).is_file() or shutil.which(Path(exe).name)):
            return f"{exe} not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium driven by selenium through Debian's chromedriver.

    Skipped only when Chromium is absent locally; CI sets PPSTACK_REQUIRE_BROWSER=1 so a missing
    browser fails there instead.
    """
    reason = _missing_browser()
    if reason:
        if os.environ.get("PPSTACK_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    with tempfile.TemporaryDirectory(prefix="ppstack-chromium-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,900"):
            options.add_argument(flag)
        # An explicit driver path: selenium never looks for (or downloads) another one.
        driver = webdriver.Chrome(options=options,
                                  service=Service(shutil.which("chromedriver") or CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()
