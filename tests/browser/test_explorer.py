"""The explorer page in a real browser (headless Chromium) against ``ppstack serve`` on the demo
data: search as you type, a drug's timeline, an as-of date, a batch's changes, phone width."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from .conftest import Demo

WAIT = 30  # seconds: generous, the machine may be loaded; a pass never depends on speed


def api(demo: Demo, path: str) -> Any:
    with urllib.request.urlopen(demo.base_url + path, timeout=30) as resp:
        return json.loads(resp.read())


def wait_for(browser: Any, condition: Any) -> Any:
    """``condition`` once it holds; an element the page re-rendered meanwhile (search as you
    type replaces the result list) makes it be evaluated again, not fail."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,)
                         ).until(condition)


def css(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def text_of(browser: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, element_id).text)


def versioned_drug(demo: Demo) -> str:
    """A drug the demo changed on day 2 (two versions at least), as its 11-digit id."""
    changed = sorted(r["ndc11"] for r in demo.scenario["snapshots"][1]["changed"])
    again = set(r["ndc11"] for r in demo.scenario["snapshots"][2]["changed"])
    both = [k for k in changed if k in again]
    return (both or changed)[0]


def test_search_open_drug_timeline_as_of_and_batch_changes(
    demo: Demo, browser: Any, screenshots: Path
) -> None:
    drug = versioned_drug(demo)
    history = api(demo, f"/drug/{drug}/history")["versions"]
    assert len(history) >= 2
    package_ndc = history[-1]["package_ndc"]

    # search as you type: the drug's published NDC finds it
    browser.get(demo.base_url + "/")
    box = css(browser, "#q")[0]
    assert browser.switch_to.active_element == box  # the search box has the focus
    box.send_keys(package_ndc)
    wait_for(browser, lambda b: any(a.get_attribute("href").endswith(f"#/drug/{drug}")
                                    for a in css(b, "#results a")))
    # ... and a name prefix while typing: results page through
    box.clear()
    box.send_keys("tab")
    wait_for(browser, lambda b: "match" in text_of(b, "search-status"))
    browser.save_screenshot(str(screenshots / "search.png"))

    # open the drug: one timeline bar per version
    browser.get(demo.base_url + f"/#/drug/{drug}")
    wait_for(browser, lambda b: len(css(b, "#timeline .bar")) == len(history))
    assert len(css(browser, "#timeline .bar.current")) == (1 if history[-1]["is_current"] else 0)
    wait_for(browser, lambda b: history[-1]["fingerprint"] in text_of(b, "version-fields"))
    # fields changed by the newest version are highlighted
    changed = [k for k, v in history[-1].items()
               if k not in ("effective_from", "effective_to", "is_current", "fingerprint",
                            "last_ingestion_batch_id", "opened_batch_id", "entity_type")
               and history[-2].get(k) != v]
    marked = [row.text.split("\n")[0] for row in css(browser, "#version-fields tr.changed")]
    assert changed and set(changed) <= {m.split(" ")[0] for m in marked}
    browser.save_screenshot(str(screenshots / "drug.png"))

    # pick an as-of date inside the first version: the older version is shown
    first = history[0]
    browser.execute_script(
        "const i = document.getElementById('as-of'); i.value = arguments[0];"
        "i.dispatchEvent(new Event('change'));", first["effective_from"])
    wait_for(browser, lambda b: first["fingerprint"] in text_of(b, "version-fields"))
    assert "In force on " + first["effective_from"] in text_of(browser, "version-title")
    browser.save_screenshot(str(screenshots / "as-of.png"))

    # a batch of the latest-batches list: its change list
    day2 = demo.batches[1]
    link = wait_for(browser, lambda b: [a for a in css(b, "#batches a")
                                        if a.get_attribute("href").endswith(day2["batch_id"])])
    link[0].click()
    wait_for(browser, lambda b: "of 189" in text_of(b, "changes-status"))
    kinds = {e.text for e in css(browser, "#changes .kind")}
    assert kinds <= {"inserted", "updated", "deleted"} and kinds
    browser.save_screenshot(str(screenshots / "changes.png"))


def test_keyboard_reaches_results_and_bars(demo: Demo, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    drug = versioned_drug(demo)
    browser.get(demo.base_url + "/")
    box = css(browser, "#q")[0]
    box.send_keys("tab")
    wait_for(browser, lambda b: css(b, "#results a"))
    box.send_keys(Keys.ARROW_DOWN)
    assert browser.switch_to.active_element == css(browser, "#results a")[0]
    browser.get(demo.base_url + f"/#/drug/{drug}")
    bars = wait_for(browser, lambda b: css(b, "#timeline .bar"))
    bars[0].send_keys(Keys.ENTER)  # a bar is a button: Enter selects that version
    wait_for(browser, lambda b: bars[0].get_attribute("aria-pressed") == "true")
    assert browser.find_element("css selector", "label[for=as-of]").text


def test_usable_at_phone_width(demo: Demo, browser: Any, screenshots: Path) -> None:
    browser.set_window_size(390, 844)
    drug = versioned_drug(demo)
    browser.get(demo.base_url + f"/#/drug/{drug}")
    wait_for(browser, lambda b: css(b, "#timeline .bar"))
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    browser.save_screenshot(str(screenshots / "phone.png"))


def test_every_control_labelled_and_nothing_loaded_from_elsewhere(demo: Demo,
                                                                  browser: Any) -> None:
    drug = versioned_drug(demo)
    browser.get(demo.base_url + f"/#/drug/{drug}")
    wait_for(browser, lambda b: css(b, "#timeline .bar"))
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select, textarea, button')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !e.textContent.trim()).map(e => e.id || e.outerHTML)")
    assert unlabelled == []
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert set(origins) <= {demo.base_url.rstrip("/")}
    html = (Path(__file__).resolve().parents[2] / "src" / "ppstack" / "api" / "static"
            / "explorer.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
