"""``ppstack fetch`` against a loopback HTTP server serving the bundled extract as a zip.

The server (``http.server`` in a thread on 127.0.0.1) plays the publisher: it honours or
ignores conditional GETs, and misbehaves in every way a download can fail. Each refusal must
leave the object store exactly as it was: nothing under ``raw/`` or anywhere else.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest

from loopback_publisher import ETAG, LAST_MODIFIED, SAMPLE
from ppstack.backends import Runtime
from ppstack.cli.main import main
from ppstack.entities import get_entity, get_source
from ppstack.errors import BadInput, ServiceUnavailable
from ppstack.raw.fetch import ARCHIVED, UNCHANGED, fetch
from ppstack.settings import Settings


@pytest.fixture
def rt(offline_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(offline_settings)
    yield runtime
    runtime.close()


def snapshot(rt: Runtime) -> dict[str, bytes]:
    """Every object in the store with its bytes."""
    return {k: rt.store.get(k) for k in rt.store.list("")}


def _fetch(rt: Runtime, url: str, **kwargs: object) -> object:
    spec = get_entity("DRUG")
    return fetch(rt, spec, get_source(spec, "FDA_NDC"), url=url, **kwargs)  # type: ignore[arg-type]


def test_source_spec_carries_fda_url() -> None:
    spec = get_entity("DRUG")
    assert get_source(spec, "FDA_NDC").url == "https://www.accessdata.fda.gov/cder/ndctext.zip"


def test_first_fetch_archives_under_last_modified_date(rt: Runtime, publisher) -> None:
    pub, url = publisher
    result = _fetch(rt, url)
    assert result.status == ARCHIVED
    assert result.ingest_date == "2019-04-29"  # UTC date of Last-Modified
    assert rt.store.list("raw/") == ["raw/DRUG/FDA_NDC/2019-04-29/ndctext.zip"]
    assert rt.store.get("raw/DRUG/FDA_NDC/2019-04-29/ndctext.zip") == pub.body
    manifest = json.loads(rt.store.get(result.manifest_key))
    assert manifest["members"]["product"]["rows"] == 2290
    assert "If-None-Match" not in pub.requests[0]  # nothing remembered yet


def test_repeat_with_304_reports_unchanged_and_writes_nothing(rt: Runtime, publisher) -> None:
    pub, url = publisher
    _fetch(rt, url)
    before = snapshot(rt)
    result = _fetch(rt, url)
    assert (result.status, result.reason) == (UNCHANGED, "HTTP 304 Not Modified")
    assert pub.requests[-1]["If-None-Match"] == ETAG
    assert pub.requests[-1]["If-Modified-Since"] == LAST_MODIFIED
    assert snapshot(rt) == before


def test_repeat_with_same_bytes_reports_unchanged_and_writes_nothing(rt: Runtime,
                                                                      publisher) -> None:
    pub, url = publisher
    _fetch(rt, url)
    before = snapshot(rt)
    pub.mode = "ignore_conditional"
    result = _fetch(rt, url, ingest_date="2019-05-01")
    assert result.status == UNCHANGED
    assert "same sha256 as the delivery of 2019-04-29" in result.reason
    assert snapshot(rt) == before


def test_changed_publication_is_archived_under_its_date(rt: Runtime, publisher) -> None:
    pub, url = publisher
    _fetch(rt, url)
    pub.mode = "ignore_conditional"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("product.txt", "package.txt"):
            z.writestr(name, (SAMPLE / name).read_bytes().replace(b"\r\n", b"\n"))
    pub.body = buf.getvalue()
    result = _fetch(rt, url, ingest_date="2019-04-30")
    assert (result.status, result.ingest_date) == (ARCHIVED, "2019-04-30")
    assert len(rt.store.list("raw/")) == 2


@pytest.mark.parametrize(("mode", "error", "words"), [
    ("404", BadInput, "HTTP 404"),
    ("500", ServiceUnavailable, "HTTP 500"),
    ("truncated", ServiceUnavailable, "truncated download"),
    ("empty", BadInput, "empty body"),
    ("not_zip", BadInput, "not a zip archive"),
    ("slow", ServiceUnavailable, "no answer within"),
])
def test_bad_downloads_are_refused_with_nothing_written(rt: Runtime, publisher, mode: str,
                                                        error: type, words: str) -> None:
    pub, url = publisher
    pub.mode = mode
    with pytest.raises(error) as info:
        _fetch(rt, url, timeout=0.5)
    message = str(info.value)
    assert words in message and url in message and "\n" not in message
    assert "nothing was archived" in message
    assert snapshot(rt) == {}


def test_body_over_the_cap_is_refused(rt: Runtime, publisher) -> None:
    _pub, url = publisher
    with pytest.raises(BadInput, match="cap"):
        _fetch(rt, url, max_bytes=1000)
    assert snapshot(rt) == {}


def test_slow_body_is_refused_at_the_deadline(rt: Runtime, publisher) -> None:
    """The whole-download deadline, independent of the per-read timeout."""
    _pub, url = publisher
    with pytest.raises(ServiceUnavailable, match="took over"):
        _fetch(rt, url, deadline=0.0)
    assert snapshot(rt) == {}


def _cli(settings: Settings, *args: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(["--home", settings.home, *args])
    return int(e.value.code or 0)


def test_cli_fetch_reports_and_refuses_in_one_line(offline_settings: Settings, publisher,
                                                   capsys) -> None:
    pub, url = publisher
    assert _cli(offline_settings, "fetch", "DRUG", "FDA_NDC", "--url", url) == 0
    out, _err = capsys.readouterr()
    assert out.strip() == "DRUG FDA_NDC: archived (2019-04-29): new delivery"
    assert _cli(offline_settings, "fetch", "DRUG", "FDA_NDC", "--url", url,
                "--format", "json") == 0
    out, _err = capsys.readouterr()
    assert json.loads(out)["status"] == "unchanged"
    pub.mode = "404"
    assert _cli(offline_settings, "-q", "fetch", "DRUG", "FDA_NDC", "--url", url) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and "HTTP 404" in err


def test_cli_fetch_run_applies_the_new_delivery_only(settings: Settings, publisher,
                                                     capsys) -> None:
    _pub, url = publisher
    assert _cli(settings, "-q", "fetch", "DRUG", "FDA_NDC", "--url", url, "--run",
                "--format", "json") == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert (record["state"], record["ingest_date"]) == ("synced", "2019-04-29")
    assert "archived (2019-04-29)" in err
    assert _cli(settings, "-q", "fetch", "DRUG", "FDA_NDC", "--url", url, "--run") == 0
    out, _err = capsys.readouterr()
    assert out.strip() == "DRUG FDA_NDC: unchanged: HTTP 304 Not Modified"  # no batch report
