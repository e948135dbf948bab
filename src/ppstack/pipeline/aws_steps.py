"""The batch steps of ``pipeline.run``, cut at the Athena statements for Step Functions.

On AWS the long statements are Athena ``.sync`` tasks of the state machine
(``infra/ppstack_infra/pipeline.py``); the functions here do the short work between them, in
separate Lambda invocations (``pipeline.aws_handler``). They use the same templates, parameters,
ledger records and lock as ``run.run_batch``, so both paths leave the same tables and ledger.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import get_entity, get_source
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput, Locked, PpstackError, Refused
from ppstack.layout import (
    check_batch_id,
    check_date,
    manifest_key,
    rejects_prefix,
    staging_prefix,
)
from ppstack.pipeline.guards import check_effective_date, check_mass_delete, last_applied_in_table
from ppstack.pipeline.ledger import FAILED, STATES, BatchRecord, Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.run import ABANDONED, open_batch, record_failed, record_success
from ppstack.pipeline.steps import (
    batch_counts,
    default_steps,
    scd2_params,
)
from ppstack.sql import render
from ppstack.storage.base import PreconditionFailed

# ---- the same batch, driven by Step Functions (pipeline.aws_handler) ------------------------
#
# On AWS the long statements are Athena ``.sync`` tasks of the state machine (infra/ppstack_infra/
# pipeline.py) and the functions below do the short work between them, in separate Lambda
# invocations. They are the pieces ``run_batch`` uses, cut at the statement boundaries:
#
#   prepare_batch  lock, ledger record (open_batch), rendered SQL: stage statements, close, insert
#   [Athena]       sql.stage in order: DDL (IF NOT EXISTS), rejects CTAS, DROP, batch CTAS, DROP
#   check_guards   ledger ``staged`` with the staging counts, then the guards of the close step
#   [Athena]       sql.close (the MERGE)   -> record_step "closed"
#   [Athena]       sql.insert (the INSERT) -> record_step "inserted" (the batch's counts)
#   sync_batch     DynamoDB                 -> record_step "synced", lock released
#   record_failure (Catch of every state)  ledger ``failed`` with the error, lock released
#
# The lock outlives one invocation: its owner token travels in the state (``lock``; not its ETag,
# which changes on renewal while a Catch hands over the input of the failed state), and every call
# checks the lock is still ours and renews it, so only a single Athena statement has to fit in
# PPSTACK_LOCK_STALE_SECONDS. ``mark`` is the time the previous call ended: the next call records
# the time in between (the Athena statements) as the step's timing.

STATE_LIMIT = 256 * 1024  # Step Functions task input/output limit
_STEP_OF_STATE = {"staged": "stage", "closed": "close", "inserted": "insert", "synced": "sync"}


def stage_statements(rt: Runtime, spec: EntitySpec, source: str, batch_id: str,
                     ingest_date: str) -> list[str]:
    """The statements ``ensure_conformed`` + ``pipeline.stage.stage`` run, in their order.

    A CTAS whose prefix already holds files is left out, as ``stage`` skips it (Athena refuses a
    CTAS into a non-empty location): the list resumes a batch whose staging was written.
    """
    from ppstack.pipeline.bootstrap import bootstrap_statements
    from ppstack.sql.params import entity_params

    src = get_source(spec, source)
    template = spec.staging_template.get(src.name)
    if not template:
        raise BadInput(f"{spec.name} has no staging template for source {src.name}")
    params = scd2_params(rt, spec, src.name, batch_id, ingest_date)
    out = [render("ddl_conformed", entity_params(spec, rt.engine, rt.settings.bucket))]
    out += [sql for _name, sql in bootstrap_statements(rt, spec)]
    for name, prefix, table_param in (
        (f"{template}_rejects", rejects_prefix(spec.name, batch_id), "rejects_ctas_table"),
        (template, staging_prefix(spec.name, batch_id), "ctas_table"),
    ):
        if not rt.store.list(prefix):
            out.append(render(name, params))
        out.append(render("stage_drop_ctas", {**params, "drop_table": params[table_param]}))
    return out


def batch_sql(rt: Runtime, spec: EntitySpec, source: str, batch_id: str,
              ingest_date: str) -> dict[str, Any]:
    """``{"stage": [...], "close": MERGE, "insert": INSERT}`` of one batch, for the active engine."""
    params = scd2_params(rt, spec, source, batch_id, ingest_date)
    return {"stage": stage_statements(rt, spec, source, batch_id, ingest_date),
            "close": render("scd2_close", params), "insert": render("scd2_insert", params)}


def prepare_batch(rt: Runtime, entity: EntitySpec | str, source: str, ingest_date: str, *,
                  allow_mass_delete: bool = False) -> dict[str, Any]:
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
    lock = EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale)
    try:
        lock.acquire()
    except Locked as e:
        return {"ready": False, "reason": str(e)}
    try:
        record = open_batch(rt, spec, src.name, ingest_date, default_steps())
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
            "sql": batch_sql(rt, spec, src.name, record.batch_id, ingest_date),
        }
        size = len(json.dumps(state))
        if size > STATE_LIMIT:
            raise PpstackError(f"pipeline state of {record.batch_id} is {size:,} bytes, over the "
                               f"Step Functions limit of {STATE_LIMIT:,}")
        return state
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
    abandoned = {r.ingest_date for r in records if r.state == ABANDONED} - {r.ingest_date for r in live}
    waiting = []
    for source in spec.sources:
        prefix = f"raw_tabular/{spec.name}/{source}/"
        for key in rt.store.list(prefix):
            day = key[len(prefix):].split("/", 1)[0]
            if (key == manifest_key(spec.name, source, day) and day > applied
                    and day not in abandoned):
                waiting.append((day, source))
    if not waiting:
        return None
    day, source = min(waiting)
    return source, day


def check_guards(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    """After the stage statements: ledger ``staged`` with its counts, then the close step's guards.

    The guards are those ``run_batch`` applies: the effective-date order (re-checked against the
    table now that the lock is held) and the mass-delete guard (``Refused`` on violation, before
    the MERGE). A batch that already got past ``closed`` (resumed) skips both, as ``run_steps``
    skips its completed steps.
    """
    spec, ledger, record, _lock = _resume(rt, state)
    params = scd2_params(rt, spec, record.source, record.batch_id, record.ingest_date)
    if not record.reached("staged"):
        result = _stage_counts(rt, spec, record, params)
        record_success(ledger, record, "stage", "staged", result, _since(state),
                       last=record.final_state == "staged")
    if not record.reached("closed"):
        others = [r for r in ledger.list(spec.name) if r.batch_id != record.batch_id]
        check_effective_date(spec.name, record.ingest_date, others,
                             last_applied_in_table(rt.engine, params))
        guard = check_mass_delete(rt.engine, params, entity=spec.name,
                                  max_share=rt.settings.mass_delete_share,
                                  allow=bool(state.get("allow_mass_delete")))
        record.steps["close"] = {"guard": guard}
        ledger.save(record)
    return _next_state(state, record,
                       sql=batch_sql(rt, spec, record.source, record.batch_id, record.ingest_date))


def record_step(rt: Runtime, state: dict[str, Any], step: str) -> dict[str, Any]:
    """After an Athena statement (``closed``, ``inserted``) or the DynamoDB sync (``synced``).

    ``inserted`` reads the batch's counts back from the table (as ``insert_step``); ``synced``
    takes the sync's figures from ``state["dynamodb"]`` and releases the lock. A state the batch
    already reached (a resumed batch repeats its statements) is left as recorded.
    """
    if step not in _STEP_OF_STATE or step == "staged":
        raise BadInput(f"record_step needs closed, inserted or synced, not {step!r}")
    spec, ledger, record, lock = _resume(rt, state)
    name = _STEP_OF_STATE[step]
    if not record.reached(step):
        result: dict[str, Any] = dict(record.steps.get(name, {}))
        athena = (state.get("athena") or {}).get(name) or {}
        if athena.get("QueryExecutionId"):
            result["query_execution_id"] = athena["QueryExecutionId"]
        if step == "inserted":
            counts = batch_counts(rt, spec, record.source, record.batch_id, record.ingest_date)
            staged = record.counts.get("staged")
            if staged is not None:
                counts["unchanged"] = int(staged) - counts["inserted"] - counts["updated"]
            result["counts"] = counts
        if step == "synced" and state.get("dynamodb") is not None:
            result["dynamodb"] = state["dynamodb"]
        record_success(ledger, record, name, step, result, _since(state),
                       last=step == record.final_state)
    if record.complete:
        lock.release()
        out = _next_state(state, record)
        out.pop("sql", None)  # nothing runs after the last step
        return out
    return _next_state(state, record)


def record_failure(rt: Runtime, state: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """The Catch of every state: ledger ``failed`` in the step after the last completed one, with
    Step Functions' error, then the lock is released. The next run resumes the batch.

    A lock another run holds now (it took a stale lock over) is not ours to release, and that
    run owns the ledger record too: both are left alone.
    """
    spec = get_entity(str(state["entity"]))
    ledger = Ledger(rt.store)
    record = ledger.load(spec.name, check_batch_id(str(state["batch_id"])))
    lock = _state_lock(rt, spec, state)
    out = {k: v for k, v in state.items() if k != "sql"}
    if not _ours(lock) and lock.holder() is not None:
        return {**out, "ready": False, "ledger": "left to the run holding the lock"}
    if not record.complete and record.state != ABANDONED:
        index = STATES.index(record.completed)
        step = _STEP_OF_STATE[STATES[index + 1]] if index + 1 < len(STATES) else "sync"
        kind, message = _describe_error(error)
        record_failed(ledger, record, step, kind, message, _since(state))
    lock.release()
    return {**out, "ready": False, "state": record.state}


def _state_lock(rt: Runtime, spec: EntitySpec, state: dict[str, Any]) -> EntityLock:
    """The lock ``prepare_batch`` took, as seen by a later invocation (same owner token)."""
    lock = EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale)
    lock.owner = str(state.get("lock") or "")
    return lock


def _ours(lock: EntityLock) -> bool:
    """Whether the lock object is held by this batch's execution (then ``lock.etag`` is set)."""
    held = lock.holder()
    if held is None or not lock.owner or held[0].get("owner") != lock.owner:
        return False
    lock.etag = held[1]
    return True


def _resume(rt: Runtime, state: dict[str, Any]
            ) -> tuple[EntitySpec, Ledger, BatchRecord, EntityLock]:
    """The batch of ``state`` with its lock checked (still ours) and renewed."""
    spec = get_entity(str(state["entity"]))
    batch_id = check_batch_id(str(state["batch_id"]))
    lock = _state_lock(rt, spec, state)
    if not _ours(lock):
        raise Locked(f"{spec.name} batch {batch_id} no longer holds the {spec.name} lock (it "
                     "expired and another run took it over, or it was released); this execution "
                     "stops so that two runs never work on one entity type. The next run resumes "
                     "the batch.")
    try:  # renew: the lock's age restarts, so a long pipeline is not taken for a dead one
        lock.etag = rt.store.put(lock.key, lock._body(), if_match=lock.etag)
    except PreconditionFailed:
        raise Locked(f"{spec.name}: another run took the lock over just now") from None
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


def _stage_counts(rt: Runtime, spec: EntitySpec, record: BatchRecord,
                  params: dict[str, str]) -> dict[str, Any]:
    """What ``steps.stage_step`` records, read back from the staging Athena just wrote."""
    from ppstack.pipeline.stage import StageResult, _count

    result = StageResult(spec.name, record.source, record.ingest_date, record.batch_id,
                         staging_uri=params["staging_location"],
                         rejects_uri=params["rejects_location"])
    _count(rt, spec, spec.staging_template[record.source], params, result)
    out = result.to_dict()
    counts = {"read": out.get("rows_read"), "excluded": out.get("excluded"),
              "rejected": out.get("rejected"), "duplicates": out.get("duplicates"),
              "staged": out.get("staged"), "invalid_dates": out.get("invalid_dates")}
    out["counts"] = {k: v for k, v in counts.items() if v is not None}
    return out


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


