"""AWS entry point of the daily acquisition: the "Fetch" Lambda that an EventBridge schedule
invokes. It runs ``raw.fetch`` for every entity and source that has a publisher URL, into the
archive bucket; a new delivery's manifest (written last) then starts the batch pipeline
through its own EventBridge rule, so this function never starts a run itself.

An event may name one ``{"entity", "source"}`` (optionally ``url`` and ``ingest_date``) to
fetch only that. A failed source does not stop the others; the invocation then fails with
every failure in one message, so the schedule's error metric and logs show it.
"""

from __future__ import annotations

from typing import Any

from ppstack.errors import PpstackError


def targets(event: dict[str, Any]) -> list[tuple[str, str]]:
    """``(ENTITY, SOURCE)`` pairs to fetch: the event's one, else all with a publisher URL."""
    from ppstack.entities import ENTITIES, get_entity, get_source

    if event.get("entity") or event.get("source"):
        spec = get_entity(str(event.get("entity", "")))
        return [(spec.name, get_source(spec, str(event.get("source", ""))).name)]
    return [(spec.name, name) for spec in ENTITIES.values() for name in spec.sources
            if get_source(spec, name).url]


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    from ppstack.backends import open_runtime
    from ppstack.entities import get_entity, get_source
    from ppstack.raw.fetch import fetch

    event = event or {}
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    with open_runtime(backend="aws") as rt:
        for entity, source in targets(event):
            spec = get_entity(entity)
            try:
                result = fetch(rt, spec, get_source(spec, source), url=event.get("url"),
                               ingest_date=event.get("ingest_date"), progress=print)
            except PpstackError as e:
                failures.append(f"{entity} {source}: {e}")
                continue
            results.append(result.to_dict())
            print(f"{entity} {source}: {result.status}: {result.reason}")
    if failures:
        raise PpstackError("; ".join(failures))
    return {"results": results}
