"""AWS entry points of the batch pipeline: thin Lambda handlers called by the Step Functions
state machine that ``infra/`` deploys.

Why this shape: Athena statements can run far longer than Lambda's 15 minutes, so the long SQL
steps (CTAS stage -> MERGE close -> INSERT insert) are Step Functions
``athena:startQueryExecution.sync`` tasks, and these handlers only do the short work between
them. ref: https://docs.aws.amazon.com/step-functions/latest/dg/connect-athena.html

Two Lambda functions use this module, so that only the sync function may write to DynamoDB:

- ``step`` (function "PipelineSteps"): ``action`` = ``prepare`` | ``advance`` | ``fail``
- ``sync`` (function "PipelineSync"): the sync step (DynamoDB), then the ledger says ``synced``.

The state they pass along is a small JSON object (Step Functions limits task input/output to
256 KiB): ``{"entity", "source", "ingest_date", "batch_id", "ready", "step", "sql": [...], ...}``;
``sql`` is the list of statements of ``step`` (``{"template", "sql", "catalog", "database"}``)
the next Map state runs on Athena, in order.

The work itself is the step definitions (``ppstack.pipeline.steps``) driven by
``ppstack.pipeline.aws_steps`` (imported lazily: a cold start only pays for what one invocation
uses):

- ``aws_steps.prepare_batch(runtime, entity, source, ingest_date) -> dict`` archive-complete
  check, lock, ledger record, the stage step's statements; ``{"ready": False, "reason"}`` when
  the archive is incomplete, nothing is pending, or another run holds the lock.
- ``aws_steps.advance(runtime, state, step) -> dict`` the step's finish recorded in the ledger,
  the next step's check (guards; ``Refused`` on violation) and statements.
- ``aws_steps.record_failure(runtime, state, error) -> dict`` ledger ``failed`` with the error;
  releases the lock.
"""

from __future__ import annotations

import dataclasses
import re
from types import ModuleType
from typing import Any

from ppstack.errors import BadInput

Event = dict[str, Any]

# The delivery's manifest raw_tabular/<ENTITY>/<SOURCE>/<YYYY-MM-DD>/_manifest.json
# (ppstack.layout.manifest_key) is what the EventBridge rule sends: it is written last, so the
# delivery is complete. A raw/<ENTITY>/<SOURCE>/<YYYY-MM-DD>/<file> key (a direct start) parses
# too; prepare then waits for the manifest.
_ARCHIVE_KEY = re.compile(r"^(?:raw|raw_tabular)/(?P<entity>[A-Z0-9_]+)/(?P<source>[A-Z0-9_]+)/"
                          r"(?P<ingest_date>\d{4}-\d{2}-\d{2})/(?P<file>[^/]+)$")

STEP_ACTIONS = ("prepare", "advance", "fail")
ADVANCE_STEPS = ("stage", "close", "insert")  # the sync step advances in the sync function


# ---- event parsing (pure; unit tested) --------------------------------------------------------

def parse_trigger(event: Event) -> dict[str, Any]:
    """What started the execution: a delivery's manifest, the daily schedule, or a direct call.

    - EventBridge "Object Created" from S3 (the bucket has EventBridge notifications on):
      ``{"source": "aws.s3", "detail": {"bucket": {"name"}, "object": {"key"}}}``
      ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
    - EventBridge schedule: ``{"source": "aws.events", "detail-type": "Scheduled Event"}``
    - direct / CLI: ``{"entity", "source", "ingest_date"}``, optionally
      ``"accept_spec_change": true`` (``ppstack run --accept-spec-change``)
    """
    if event.get("source") == "aws.s3":
        detail = event.get("detail") or {}
        key = str((detail.get("object") or {}).get("key", ""))
        match = _ARCHIVE_KEY.match(key)
        if not match or (key.startswith("raw_tabular/") and match["file"] != "_manifest.json"):
            raise BadInput(f"not an archive manifest key: {key!r} (expected "
                           "raw_tabular/ENTITY/SOURCE/YYYY-MM-DD/_manifest.json)")
        return {"trigger": "object", "bucket": (detail.get("bucket") or {}).get("name"),
                "key": key, **{k: match.group(k) for k in ("entity", "source", "ingest_date")}}
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        return {"trigger": "schedule", "time": event.get("time")}
    missing = [k for k in ("entity", "source", "ingest_date") if not event.get(k)]
    if missing:
        raise BadInput(f"pipeline event needs {', '.join(missing)}; got keys {sorted(event)}")
    from ppstack.layout import check_date

    return {"trigger": "direct", "entity": str(event["entity"]).upper(),
            "source": str(event["source"]).upper(),
            "ingest_date": check_date(str(event["ingest_date"]), "ingest_date"),
            "accept_spec_change": event.get("accept_spec_change") is True}


def parse_step(event: Event) -> tuple[str, dict[str, Any]]:
    """``{"action": ..., "state": {...}}`` as the state machine sends it (``Payload``)."""
    action = event.get("action")
    if action not in STEP_ACTIONS:
        raise BadInput(f"unknown pipeline action {action!r}; known: {', '.join(STEP_ACTIONS)}")
    state = event.get("state")
    if not isinstance(state, dict):
        raise BadInput("pipeline step event needs a 'state' object")
    if action != "prepare":
        for key in ("entity", "batch_id"):
            if not state.get(key):
                raise BadInput(f"pipeline state for {action!r} needs {key!r}")
    if action == "advance" and event.get("step") not in ADVANCE_STEPS:
        raise BadInput(f"advance needs step in {ADVANCE_STEPS}, not {event.get('step')!r}")
    return str(action), state


# ---- handlers ---------------------------------------------------------------------------------

def step(event: Event, context: Any = None) -> dict[str, Any]:
    """Lambda entry point of the "PipelineSteps" function; returns the next state."""
    action, state = parse_step(event)
    runtime = _runtime()
    if action == "prepare":
        trigger = parse_trigger(state)
        if trigger["trigger"] == "schedule":
            return _json(_steps().prepare_pending(runtime))
        return _json(_steps().prepare_batch(
            runtime, trigger["entity"], trigger["source"], trigger["ingest_date"],
            accept_spec_change=bool(trigger.get("accept_spec_change"))))
    if action == "advance":
        return _json(_steps().advance(runtime, state, event["step"]))
    return _json(_steps().record_failure(runtime, state, event.get("error") or {}))


def sync(event: Event, context: Any = None) -> dict[str, Any]:
    """Lambda entry point of the "PipelineSync" function: the next slice of the DynamoDB sync
    of one batch (``serving.slices``), and once every slice is done the sync step recorded in
    the ledger; the lock is released with the batch complete.

    Returns the state with ``sync_done``: the state machine invokes this again until it is
    true. Each slice stops well before the invocation's own time limit.
    """
    state = event.get("state", event)
    if not isinstance(state, dict) or not state.get("entity") or not state.get("batch_id"):
        raise BadInput("sync needs a state with 'entity' and 'batch_id'")
    from ppstack.layout import check_batch_id
    from ppstack.serving.slices import sync_slice

    check_batch_id(str(state["batch_id"]))
    runtime = _runtime()
    checkpoint = sync_slice(runtime, str(state["entity"]).upper(), str(state["batch_id"]),
                            time_left=_time_left(context))
    progress = {"entities": checkpoint.entities, "total": checkpoint.total,
                "invocations": checkpoint.invocations}
    if not checkpoint.done:
        return {**state, "sync_done": False, "sync_progress": progress}
    done = _json(_steps().advance(runtime, state, "sync"))
    return {**done, "sync_done": True, "sync_progress": progress}


def _time_left(context: Any) -> Any:
    """Seconds this invocation has left (Lambda's context); 15 minutes when called directly."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return lambda: context.get_remaining_time_in_millis() / 1000.0
    import time

    deadline = time.monotonic() + 900.0
    return lambda: deadline - time.monotonic()


# ---- helpers ----------------------------------------------------------------------------------

def _runtime() -> Any:
    """The AWS runtime (S3 store, Athena engine, DynamoDB) from the Lambda environment."""
    from ppstack.backends import open_runtime

    return open_runtime(backend="aws")


def _steps() -> ModuleType:
    """The step driver, imported on first use: a cold start pays only for what it runs."""
    from ppstack.pipeline import aws_steps

    return aws_steps


def _json(value: Any) -> dict[str, Any]:
    """Step Functions passes JSON only: dataclasses (e.g. SyncStats) become dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return dict(value or {})
