"""The Step Functions driver of the batch steps: the step definitions, shipped.

On AWS the SQL of each step runs as Athena ``.sync`` tasks of the state machine
(``infra/ppstack_infra/pipeline.py``); the functions here do the Python parts of the same step
definitions (``pipeline.steps``) between them, in separate Lambda invocations
(``pipeline.aws_handler``), with the same ledger records and lock as ``run.run_batch``:

  prepare_batch  lock, ledger record (``run.open_batch``), the stage step's check; ships the
                 stage step's statements
  [Athena]       the shipped statements, in order, each in its own QueryExecutionContext
  advance(step)  the step's finish (what it records, read back from what Athena wrote), then
                 the next step's check, and ships the next step's statements
  ...            stage -> close -> insert; the sync step has no statements: its finish (the
                 DynamoDB sync) runs in the sync function, and the ledger says ``synced``
  record_failure (Catch of every state)  ledger ``failed`` with the error, lock released

A step the ledger already shows completed (a resumed batch) ships nothing and is not recorded
again, as ``run.run_steps`` skips it. Nothing here renders SQL, counts or guards by itself.

The lock outlives one invocation: its owner token travels in the state (``lock``; not its ETag,
which changes on renewal while a Catch hands over the input of the failed state), and every call
checks the lock is still ours and renews it, so only a single Athena statement has to fit in
PPSTACK_LOCK_STALE_SECONDS. ``mark`` is the time the previous call ended: the next call records
the time in between (the Athena statements) as the step's timing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import get_entity, get_source
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput, Locked, PpstackError, Refused
from ppstack.layout import check_batch_id, check_date, manifest_key, rendition_root
from ppstack.pipeline.ledger import FAILED, BatchRecord, Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.run import ABANDONED, record_failed, record_success, start_batch
from ppstack.pipeline.steps import (
    BatchContext,
    StepDefinition,
    default_steps,
    definitions,
)

STATE_LIMIT = 256 * 1024  # Step Functions task input/output limit


def prepare_batch(rt: Runtime, entity: EntitySpec | str, source: str, ingest_date: str, *,
                  allow_mass_delete: bool = False, accept_spec_change: bool = False
                  ) -> dict[str, Any]:
    """Start (or resume) the batch of ``ingest_date``: the state the state machine carries.

    ``{"ready": False, "reason"}`` when the date's archive is not complete yet, another run
    holds the lock, or the date is already complete; ``Refused`` (the execution fails) when the
    ledger refuses the date (an unfinished batch of another date, or not a later date).
    """
    spec = get_entity(entity) if isinstance(entity, str) else entity
    src = get_source(spec, source)
    check_date(ingest_date)
    from ppstack.pipeline.stage import require_archived

    try:
        require_archived(rt, spec, src, ingest_date)
    except BadInput as e:
        return {"ready": False, "reason": str(e)}
    lock = EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds)
    try:
        lock.acquire()
    except Locked as e:
        return {"ready": False, "reason": str(e)}
    try:
        record, batch = start_batch(rt, spec, src.name, ingest_date, default_steps(),
                                    accept_spec_change=accept_spec_change)
        if record.complete:
            lock.release()
            return {"ready": False, "reason": f"{spec.name} batch {record.batch_id} for "
                                              f"{ingest_date} is already complete"}
        if lock.notes:
            record.notes.extend(lock.notes)
            Ledger(rt.store).save(record)
        state = {
            "entity": spec.name, "source": src.name, "ingest_date": ingest_date,
            "batch_id": record.batch_id, "ready": True, "resumed": record.attempts > 1,
            "completed": record.completed, "allow_mass_delete": allow_mass_delete,
            "lock": lock.owner, "mark": time.time(),
        }
        ctx = BatchContext(rt=rt, spec=spec, source=src.name, record=record,
                           allow_mass_delete=allow_mass_delete, batch=batch)
        return _ship(ctx, state, definitions()[0])
    except BaseException:
        lock.release()
        raise


def prepare_pending(rt: Runtime) -> dict[str, Any]:
    """The daily sweep: prepare the first entity type with an archived date waiting to run.

    Per entity type that is the unfinished latest batch (resumed), else the earliest archived
    date later than every applied one. Dates whose latest batch was abandoned are not picked up
    again here (abandoning means "skip it"); a direct run of that date still may.
    """
    from ppstack.entities import ENTITIES

    reasons = []
    for spec in ENTITIES.values():
        candidate = _pending(rt, spec)
        if candidate is None:
            continue
        try:
            state = prepare_batch(rt, spec, *candidate)
        except (Refused, BadInput) as e:  # one entity's refusal does not stop the others
            reasons.append(f"{spec.name}: {e}")
            continue
        if state.get("ready"):
            return state
        reasons.append(f"{spec.name}: {state.get('reason')}")
    return {"ready": False, "reason": "; ".join(reasons) or "no archived date is waiting to run"}


def _pending(rt: Runtime, spec: EntitySpec) -> tuple[str, str] | None:
    """(source, ingest_date) of the next batch of ``spec``, or None."""
    records = Ledger(rt.store).list(spec.name)
    live = [r for r in records if r.state != ABANDONED]
    if live and not live[-1].complete and live[-1].batch_id == records[-1].batch_id:
        return live[-1].source, live[-1].ingest_date
    applied = max((r.ingest_date for r in live), default="")
    abandoned = ({r.ingest_date for r in records if r.state == ABANDONED}
                 - {r.ingest_date for r in live})
    waiting = []
    for source in spec.sources:
        prefix = rendition_root(spec.name, source)
        for key in rt.store.list(prefix):
            day = key[len(prefix):].split("/", 1)[0]
            if (key == manifest_key(spec.name, source, day) and day > applied
                    and day not in abandoned):
                waiting.append((day, source))
    if not waiting:
        return None
    day, source = min(waiting)
    return source, day


def advance(rt: Runtime, state: dict[str, Any], step: str) -> dict[str, Any]:
    """After the statements of ``step`` ran: its finish recorded in the ledger, then the next
    step's check, and the next step's statements shipped in the returned state. After the last
    step the lock is released and nothing is shipped.

    ``state["athena"][step]`` holds the query execution ids of the step's statements (from the
    Map state); their row counts are read back from Athena for the step's finish.
    """
    steps = definitions()
    names = [d.name for d in steps]
    if step not in names:
        raise BadInput(f"advance needs a step in {', '.join(names)}, not {step!r}")
    spec, ledger, record, lock = _resume(rt, state)
    definition = steps[names.index(step)]
    ctx = BatchContext(rt=rt, spec=spec, source=record.source, record=record,
                       allow_mass_delete=bool(state.get("allow_mass_delete")))
    if not record.reached(definition.state):
        ids = _query_ids(state, step)
        result = definition.finish(ctx, dict(state.get("checked") or {}), _row_counts(rt, ids))
        if ids:
            result["query_execution_ids"] = ids
        record_success(ledger, record, step, definition.state, result, _since(state),
                       last=definition.state == record.final_state)
    if record.complete:
        lock.release()
        return {k: v for k, v in _next_state(state, record).items()
                if k not in ("sql", "checked", "step")}
    return _ship(ctx, _next_state(state, record), steps[names.index(step) + 1])


def _ship(ctx: BatchContext, state: dict[str, Any], definition: StepDefinition
          ) -> dict[str, Any]:
    """``state`` with ``definition``'s check done and its statements to run; nothing when the
    ledger shows the step completed (a resumed batch)."""
    done = ctx.record.reached(definition.state)
    checked = {} if done else definition.check(ctx)
    statements = [] if done else [s.to_state()
                                  for s in definition.statements(ctx.batch, ctx.written)]
    out = {**state, "step": definition.name, "checked": checked, "sql": statements}
    size = len(json.dumps(out))
    if size > STATE_LIMIT:
        raise PpstackError(f"pipeline state of {ctx.batch_id} is {size:,} bytes, over the "
                           f"Step Functions limit of {STATE_LIMIT:,}")
    return out


def _query_ids(state: dict[str, Any], step: str) -> list[str]:
    """Query execution ids the Map state of ``step`` collected (``$.athena.<step>``)."""
    runs = (state.get("athena") or {}).get(step) or []
    return [str(r["QueryExecutionId"]) for r in runs
            if isinstance(r, dict) and r.get("QueryExecutionId")]


def _row_counts(rt: Runtime, query_ids: list[str]) -> list[int | None]:
    """Rows each statement wrote, as Athena reports them (``UpdateCount``); None for each
    statement on an engine that cannot look a past statement up."""
    from ppstack.engine.athena import AthenaEngine

    engine = rt.engine
    if not isinstance(engine, AthenaEngine):
        return [None for _ in query_ids]
    return [engine.update_count(query_id) for query_id in query_ids]


def record_failure(rt: Runtime, state: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """The Catch of every state: ledger ``failed`` in the step after the last completed one, with
    Step Functions' error, then the lock is released. The next run resumes the batch.

    A lock another run holds now (it took a stale lock over) is not ours to release, and that
    run owns the ledger record too: both are left alone.
    """
    spec = get_entity(str(state["entity"]))
    ledger = Ledger(rt.store)
    record = ledger.load(spec.name, check_batch_id(str(state["batch_id"])))
    lock, ours = _state_lock(rt, spec, state)
    out = {k: v for k, v in state.items() if k not in ("sql", "checked")}
    if not ours and lock.holder() is not None:
        return {**out, "ready": False, "ledger": "left to the run holding the lock"}
    if not record.complete and record.state != ABANDONED:
        step = next((d.name for d in definitions() if not record.reached(d.state)),
                    definitions()[-1].name)
        kind, message = _describe_error(error)
        record_failed(ledger, record, step, kind, message, _since(state))
    lock.release()
    return {**out, "ready": False, "state": record.state}


def _state_lock(rt: Runtime, spec: EntitySpec, state: dict[str, Any]) -> tuple[EntityLock, bool]:
    """The lock ``prepare_batch`` took, as seen by a later invocation (same owner token), and
    whether this execution still holds it."""
    lock = EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds)
    return lock, lock.adopt(str(state.get("lock") or ""))


def _resume(rt: Runtime, state: dict[str, Any]
            ) -> tuple[EntitySpec, Ledger, BatchRecord, EntityLock]:
    """The batch of ``state`` with its lock checked (still ours) and renewed."""
    spec = get_entity(str(state["entity"]))
    batch_id = check_batch_id(str(state["batch_id"]))
    lock, ours = _state_lock(rt, spec, state)
    if not ours:
        raise Locked(f"{spec.name} batch {batch_id} no longer holds the {spec.name} lock (it "
                     "expired and another run took it over, or it was released); this execution "
                     "stops so that two runs never work on one entity type. The next run resumes "
                     "the batch.")
    lock.renew()
    ledger = Ledger(rt.store)
    record = ledger.load(spec.name, batch_id)
    if record.state in (FAILED, ABANDONED):
        raise Refused(f"{spec.name} batch {batch_id} is {record.state} in the ledger; start a "
                      "new execution to resume it")
    return spec, ledger, record, lock


def _next_state(state: dict[str, Any], record: BatchRecord, **changes: Any) -> dict[str, Any]:
    return {**state, "completed": record.completed, "mark": time.time(), **changes}


def _since(state: dict[str, Any]) -> float:
    """Seconds since the previous call of this execution ended (the Athena statements between)."""
    try:
        return max(0.0, time.time() - float(state["mark"]))
    except (KeyError, TypeError, ValueError):
        return 0.0


def _describe_error(error: dict[str, Any]) -> tuple[str, str]:
    """Step Functions' ``{"Error", "Cause"}``; a Lambda's Cause is JSON with ``errorMessage``."""
    kind = str(error.get("Error") or error.get("type") or "Error")
    cause = error.get("Cause", error.get("message", ""))
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            kind = str(parsed.get("errorType") or kind)
            cause = parsed.get("errorMessage") or parsed.get("Cause") or cause
    return kind, str(cause)[:4000]
