"""The scheduled fetch Lambda's entry point, on the local backend with a loopback publisher."""

from __future__ import annotations

from typing import Any

import pytest

from ppstack.backends import Runtime
from ppstack.errors import BadInput, PpstackError
from ppstack.raw import fetch_handler
from ppstack.settings import Settings


def test_targets_are_every_source_with_a_url_or_the_named_one() -> None:
    assert ("DRUG", "FDA_NDC") in fetch_handler.targets({})
    assert fetch_handler.targets({"entity": "drug", "source": "fda_ndc"}) == [("DRUG", "FDA_NDC")]
    with pytest.raises(BadInput):
        fetch_handler.targets({"entity": "NOPE", "source": "FDA_NDC"})


@pytest.fixture
def local_runtime(offline_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The handler opens the AWS runtime; here it gets the local one (same object store port)."""
    import ppstack.backends as backends

    rt = Runtime(offline_settings)
    monkeypatch.setattr(backends, "open_runtime", lambda **_kw: rt)
    return rt


def test_handler_archives_then_reports_unchanged(local_runtime: Runtime, publisher: Any) -> None:
    _pub, url = publisher
    event = {"entity": "DRUG", "source": "FDA_NDC", "url": url}
    first = fetch_handler.handler(event)["results"]
    assert [r["status"] for r in first] == ["archived"]
    assert local_runtime.store.head(first[0]["manifest_key"]) is not None
    again = fetch_handler.handler(event)["results"]
    assert [r["status"] for r in again] == ["unchanged"]


def test_handler_fails_with_every_failure_named(local_runtime: Runtime, publisher: Any) -> None:
    pub, url = publisher
    pub.mode = "500"
    with pytest.raises(PpstackError, match="DRUG FDA_NDC: .*HTTP 500"):
        fetch_handler.handler({"entity": "DRUG", "source": "FDA_NDC", "url": url})
    assert local_runtime.store.list("raw/") == []
