"""``ppstack fetch``: download a source's publication and archive it, unless nothing changed.

Why each check, in order:

1. A conditional GET with the ETag / Last-Modified remembered for this entity and source
   (``fetch/<ENTITY>/<SOURCE>.json``): a publisher that honours them answers 304 and nothing is
   downloaded at all.
2. The sha256 of the body against the latest archived delivery of the source: publishers that
   ignore conditional headers (or change the ETag on every deploy) resend the same bytes, which
   must not become a new dated delivery. Both paths are reported as ``unchanged`` and write
   nothing.
3. Otherwise the body goes through ``raw.archive`` exactly as ``ppstack archive`` would (every
   member parsed and checked before a byte is written, manifest last). The remembered
   validators are written only after the manifest, so a crash retries the download.

The ingest date is ``--date``, else the UTC date of the response's Last-Modified (the day the
publisher produced the file), else today in UTC.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ppstack import layout
from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, Source
from ppstack.errors import BadInput, NotFound
from ppstack.progress import MeterFactory, Progress, no_meter
from ppstack.raw import download as dl
from ppstack.raw.archive import archive_inputs, load_manifest
from ppstack.raw.readers import InputFile

ARCHIVED = "archived"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class FetchResult:
    entity: str
    source: str
    url: str
    status: str  # archived | unchanged
    reason: str  # why: "HTTP 304 Not Modified", "same sha256 as 2019-04-29", "new delivery"
    ingest_date: str = ""
    sha256: str = ""
    size: int = 0
    manifest_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_url(source: Source, url: str | None) -> str:
    chosen = url or source.url
    if not chosen:
        raise BadInput(f"source {source.name} has no publisher URL; pass --url")
    if not chosen.lower().startswith(("http://", "https://")):
        raise BadInput(f"--url must be an http:// or https:// URL, not {chosen!r}")
    return chosen


def fetch(rt: Runtime, spec: EntitySpec, source: Source, *, url: str | None = None,
          ingest_date: str | None = None, max_bytes: int = dl.DEFAULT_MAX_BYTES,
          timeout: float = dl.DEFAULT_TIMEOUT, deadline: float = dl.DEFAULT_DEADLINE,
          progress: Progress | None = None,
          meter: MeterFactory = no_meter) -> FetchResult:
    """Download ``source``'s publication for ``spec`` and archive it when it is new."""
    say = progress or (lambda _msg: None)
    if source.name not in spec.sources:
        raise BadInput(f"source {source.name} does not feed {spec.name}; known: "
                       f"{', '.join(spec.sources)}")
    if ingest_date is not None:
        layout.check_date(ingest_date)
    target = source_url(source, url)
    e, s = spec.name, source.name
    state = _load_state(rt, e, s)
    since = dl.Validators(state.get("etag", ""), state.get("last_modified", "")) \
        if state.get("url") == target else None
    say(f"fetching {target}")
    with dl.download(target, since=since, max_bytes=max_bytes, timeout=timeout,
                     deadline=deadline, meter=meter(f"download {dl.file_name(target)}")) as got:
        if got is None:
            return FetchResult(e, s, target, UNCHANGED, "HTTP 304 Not Modified")
        latest = latest_delivery(rt, spec, source)
        if latest is not None and got.sha256 in latest[1]:
            return FetchResult(e, s, target, UNCHANGED,
                               f"same sha256 as the delivery of {latest[0]}",
                               ingest_date=latest[0], sha256=got.sha256, size=got.size)
        date = ingest_date or got.validators.modified_date() or dl.today_utc()
        say(f"{got.name}: {got.size} bytes, sha256 {got.sha256[:12]}, ingest date {date}")
        result = archive_inputs(rt, spec, source, [InputFile(got.name, got.read())], date,
                                progress=say)
        _save_state(rt, e, s, target, got, date)
        return FetchResult(e, s, target, ARCHIVED, "new delivery", ingest_date=date,
                           sha256=got.sha256, size=got.size, manifest_key=result.manifest_key)


def latest_delivery(rt: Runtime, spec: EntitySpec, source: Source
                    ) -> tuple[str, set[str]] | None:
    """``(ingest_date, {sha256 of each archived file})`` of the newest complete delivery."""
    prefix = layout.archive_prefix(spec.name, source.name)
    dates = []
    for key in rt.store.list(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 2 and key == layout.manifest_key(spec.name, source.name, parts[0]):
            dates.append(parts[0])
    if not dates:
        return None
    dates.sort()
    manifest = load_manifest(rt, spec, source, dates[-1])
    return dates[-1], {f.sha256 for f in manifest.files}


def _load_state(rt: Runtime, entity: str, source: str) -> dict[str, Any]:
    try:
        doc = json.loads(rt.store.get(layout.fetch_state_key(entity, source)))
    except (NotFound, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _save_state(rt: Runtime, entity: str, source: str, url: str, got: dl.Downloaded,
                ingest_date: str) -> None:
    doc = {"url": url, "etag": got.validators.etag,
           "last_modified": got.validators.last_modified, "sha256": got.sha256,
           "size": got.size, "ingest_date": ingest_date,
           "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
    rt.store.put(layout.fetch_state_key(entity, source), body)
