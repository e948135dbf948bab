"""Run one batch of one entity type: lock, ledger, steps, report
(docs/operations.md#failure-and-resume).

``run_batch`` is what ``ppstack run`` (and ``ppstack ingest`` after archiving) calls:

1. take the entity's lock (a second concurrent run gets ``Locked``);
2. pick the batch from the ledger: resume the latest one if it is unfinished and for the same
   date (same batch id, from its last completed step), do nothing if that date is already
   complete, refuse any other date while a batch is unfinished, refuse a date that is not later
   than the last applied one, else open a new ledger record;
3. run the remaining steps in order, recording state, counts and timings after each;
4. on failure record ``failed`` with the step and the error (the next run resumes), release the
   lock and re-raise.

The steps are the tuple in ``pipeline.steps``; tests may pass their own tuple (e.g. a stage step
that writes prepared Parquet) and ``stop_after`` to simulate a kill after a given step.

On AWS the same batch is driven by Step Functions through ``pipeline.aws_steps``: the same step
definitions (``pipeline.steps``), ledger records and lock, with each step's statements shipped to
Athena instead of executed here. ``abandon_batch`` gives up a batch that stopped before it touched
the conformed table, so that a later date can run.
"""

from __future__ import annotations

import time
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import get_entity, get_source
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput, NotFound, Refused
from ppstack.layout import (
    STAGING_NS,
    check_batch_id,
    check_date,
    new_batch_id,
)
from ppstack.pipeline.batch import BatchParams
from ppstack.pipeline.guards import check_effective_date, last_applied_in_table
from ppstack.pipeline.ledger import BATCH, FAILED, REPLAY, BatchRecord, Ledger, utc_now
from ppstack.pipeline.lock import EntityLock, SimulatedKill
from ppstack.pipeline.steps import (
    BatchContext,
    Step,
    default_steps,
    ensure_conformed,
    setup_batch,
)
from ppstack.progress import MeterFactory, Progress, no_meter, quiet

# A batch given up before ``closed`` (``abandon_batch``): it never touched the conformed table.
ABANDONED = "abandoned"


def raw_files(rt: Runtime, spec: EntitySpec, source: str, ingest_date: str) -> list[dict[str, Any]]:
    """Raw keys and sha256 of the date's archive manifest (empty when it was never archived:
    the stage step then fails with the archive's own explanation)."""
    from ppstack.raw.archive import load_manifest  # lazy: pyarrow comes with the raw layer

    try:
        manifest = load_manifest(rt, spec, source, ingest_date)
    except NotFound:
        return []
    return [{"key": f.key, "sha256": f.sha256, "size": f.size} for f in manifest.files]


def refuse_during_replay(spec: EntitySpec, records: list[BatchRecord]) -> None:
    """Refused while a replay of the entity is unfinished: the entity's table may be the one
    being replaced, or absent between the promotion's two renames."""
    replaying = next((r for r in reversed(records) if r.kind == REPLAY and not r.complete), None)
    if replaying is not None:
        window = replaying.replay.get("from")
        raise Refused(
            f"{spec.name} replay {replaying.batch_id} is not finished (phase "
            f"'{replaying.completed}'): batches apply only to the promoted table. Finish it "
            f"first: ppstack replay {spec.name}" + (f" --from {window}" if window else "")
            + (f" --to {replaying.replay['to']}" if replaying.replay.get("to") else ""))


def open_batch(rt: Runtime, spec: EntitySpec, source: str, ingest_date: str,
               steps: tuple[Step, ...], progress: Progress = quiet
               ) -> tuple[BatchRecord, BatchParams]:
    """The ledger record this run works on: resumed, already complete, or new (or Refused),
    and the batch's parameters, built once here for every later layer."""
    ledger = Ledger(rt.store)
    records = ledger.list(spec.name)
    refuse_during_replay(spec, records)
    records = [r for r in records if r.kind == BATCH]
    latest = records[-1] if records else None
    if latest is not None and latest.state == ABANDONED:
        # Given up before it touched the conformed table: it blocks nothing, and its date may
        # run again as a new batch (the raw files are the same, write-once).
        latest = None
    if latest is not None and not latest.complete:
        if latest.ingest_date == ingest_date:
            progress(f"resuming batch {latest.batch_id} ({latest.ingest_date}) after "
                     f"'{latest.completed}'")
            if latest.error:
                latest.notes.append(f"attempt {latest.attempts} failed in "
                                    f"{latest.error.get('step')}: {latest.error.get('message')}")
            latest.attempts += 1
            latest.state = latest.completed
            latest.error = None
            latest.finished = None
            return ledger.save(latest), _params(rt, spec, latest)
        raise Refused(
            f"{spec.name} batch {latest.batch_id} for {latest.ingest_date} is not finished (state "
            f"'{latest.state}', last completed '{latest.completed}'). A new batch starts only when "
            f"the previous one is complete, so that each batch finds the state the previous one "
            f"left. Finish it first: ppstack run {spec.name} {latest.source} "
            f"--date {latest.ingest_date}"
        )
    if latest is not None and latest.ingest_date == ingest_date:
        progress(f"batch {latest.batch_id} for {ingest_date} is already complete; nothing to do")
        return latest, _params(rt, spec, latest)
    batch = BatchParams.build(rt.settings, spec, source, ingest_date, new_batch_id())
    batch_id = batch.batch_id
    check_effective_date(spec.name, ingest_date, records, last_applied_in_table(rt.engine, batch))
    record = BatchRecord(entity=spec.name, source=source, ingest_date=ingest_date,
                         batch_id=batch_id, final_state=steps[-1].state,
                         raw=raw_files(rt, spec, source, ingest_date))
    progress(f"new batch {batch_id} for {spec.name} {source} {ingest_date}")
    return ledger.create(record), batch


def start_batch(rt: Runtime, spec: EntitySpec, source: str, ingest_date: str,
                steps: tuple[Step, ...], progress: Progress = quiet, *,
                accept_spec_change: bool = False) -> tuple[BatchRecord, BatchParams]:
    """How both drivers start a batch under the lock: the setup step (``steps.setup_batch``),
    then the ledger record (``open_batch``), which notes an accepted spec change."""
    # before the setup: between a replay's two renames it would create an empty table under
    # the entity's name, and the replay could then not finish its promotion
    refuse_during_replay(spec, Ledger(rt.store).list(spec.name))
    note = setup_batch(rt, spec, source, ingest_date, accept_spec_change=accept_spec_change)
    record, batch = open_batch(rt, spec, source, ingest_date, steps, progress)
    if note is not None:
        progress(note)
        record.notes.append(note)
        record.steps["spec_change"] = {"fields": list(spec.field_names), "at": utc_now()}
        Ledger(rt.store).save(record)
    return record, batch


def _params(rt: Runtime, spec: EntitySpec, record: BatchRecord) -> BatchParams:
    return BatchParams.build(rt.settings, spec, record.source, record.ingest_date, record.batch_id)


def record_success(ledger: Ledger, record: BatchRecord, step_name: str, state: str,
                   result: dict[str, Any], seconds: float, *, last: bool) -> BatchRecord:
    """Write one completed step into the ledger: timing, counts, DynamoDB stats, its result."""
    record.timings[step_name] = round(seconds, 3)
    record.counts.update({k: v for k, v in result.pop("counts", {}).items() if v is not None})
    if "dynamodb" in result:
        record.dynamodb = result.pop("dynamodb")
    record.steps[step_name] = result
    record.state = record.completed = state
    if last:
        record.finished = utc_now()
    return ledger.save(record)


def record_failed(ledger: Ledger, record: BatchRecord, step_name: str, error_type: str,
                  message: str, seconds: float | None) -> BatchRecord:
    """Write a failed step into the ledger; ``completed`` keeps the last state reached."""
    record.state = FAILED
    record.error = {"step": step_name, "type": error_type, "message": message, "at": utc_now()}
    if seconds is not None:
        record.timings[step_name] = round(seconds, 3)
    record.finished = utc_now()
    return ledger.save(record)


def until_state(steps: tuple[Step, ...], until: str | None) -> str | None:
    """The ledger state ``--until`` names (a state like ``inserted`` or a step like ``insert``);
    BadInput listing the valid names when it is neither."""
    if until is None:
        return None
    for step in steps:
        if until in (step.state, step.name):
            return step.state
    names = ", ".join(s.state for s in steps)
    raise BadInput(f"unknown step {until!r} for --until; valid steps: {names}")


def run_steps(ctx: BatchContext, steps: tuple[Step, ...], *, stop_after: str | None = None,
              until: str | None = None) -> BatchRecord:
    """Run the steps the record has not completed yet, recording each; resumable at any point.

    ``until`` (a ledger state) stops cleanly once the batch has reached it: the record stays
    unfinished at that state, and the next run of the same date resumes after it.
    """
    ledger = Ledger(ctx.rt.store)
    record = ctx.record
    order = [s.state for s in steps]
    done = order.index(record.completed) + 1 if record.completed in order else 0
    if until is not None and done > order.index(until):
        ctx.progress(f"batch {record.batch_id} has already reached '{until}'")
        return record
    for step in steps[done:]:
        ctx.progress(f"{step.name} ...")
        started = time.perf_counter()
        try:
            result = step.run(ctx)
        except (Exception, KeyboardInterrupt) as e:  # Ctrl-C too: the ledger says where it stopped
            message = str(e) if isinstance(e, Exception) else "interrupted (Ctrl-C or SIGTERM)"
            record_failed(ledger, record, step.name, type(e).__name__, message,
                          time.perf_counter() - started)
            raise
        record_success(ledger, record, step.name, step.state, result,
                       time.perf_counter() - started, last=step is steps[-1])
        ctx.progress(f"{step.name} done in {record.timings[step.name]:.2f} s")
        if stop_after == step.name:
            raise SimulatedKill(f"simulated kill after step {step.name}")
        if until == step.state and step is not steps[-1]:
            ctx.progress(f"stopped after '{step.state}' as asked (--until); resume with: "
                         f"ppstack run {ctx.spec.name} {ctx.source} --date {ctx.ingest_date}")
            break
    return record


def run_batch(rt: Runtime, entity: EntitySpec | str, source: str, ingest_date: str, *,
              allow_mass_delete: bool = False, steps: tuple[Step, ...] | None = None,
              progress: Progress = quiet, stop_after: str | None = None,
              meter: MeterFactory = no_meter, until: str | None = None,
              accept_spec_change: bool = False) -> BatchRecord:
    """Apply the ``ingest_date`` delivery of ``source`` to ``entity``; returns its ledger record.

    ``until`` names a step (or the state it reaches) to stop after; see ``run_steps``.
    """
    spec = get_entity(entity) if isinstance(entity, str) else entity
    source = get_source(spec, source).name
    check_date(ingest_date)
    steps = steps or default_steps()
    stop_state = until_state(steps, until)
    with EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds) as lock:
        for note in lock.notes:
            progress(note)
        record, batch = start_batch(rt, spec, source, ingest_date, steps, progress,
                                    accept_spec_change=accept_spec_change)
        if lock.notes:
            record.notes.extend(lock.notes)
        if record.complete:
            return record
        ctx = BatchContext(rt=rt, spec=spec, source=source, record=record,
                           allow_mass_delete=allow_mass_delete, progress=progress, meter=meter,
                           batch=batch)
        return run_steps(ctx, steps, stop_after=stop_after, until=stop_state)


# ---- abandoning a batch -----------------------------------------------------------------------

def abandon_batch(rt: Runtime, entity: EntitySpec | str, batch_id: str, reason: str) -> BatchRecord:
    """Give up a batch that failed or stopped before ``closed``, so that a later date can run.

    Only a batch that never touched the conformed table may be abandoned: its ledger record has
    not reached ``closed`` and the table holds no row stamped with its id (a MERGE that committed
    just before a kill would). Anything else is ``Refused``: finish it with ``ppstack run``.
    The record keeps its counts and error; its state becomes ``abandoned`` with the reason.
    """
    spec = get_entity(entity) if isinstance(entity, str) else entity
    check_batch_id(batch_id)
    if not reason.strip():
        raise BadInput("abandoning a batch needs a reason (--reason)")
    with EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds,
                    purpose="abandon"):
        ledger = Ledger(rt.store)
        try:
            record = ledger.load(spec.name, batch_id)
        except NotFound:
            raise NotFound(f"{spec.name} has no batch {batch_id}; see ppstack status "
                           f"{spec.name}") from None
        if record.state == ABANDONED:
            return record
        finish = f"ppstack run {spec.name} {record.source} --date {record.ingest_date}"
        if record.complete:
            raise Refused(f"{spec.name} batch {batch_id} is complete ({record.state}); only an "
                          "unfinished batch can be abandoned")
        if record.reached("closed"):
            raise Refused(
                f"{spec.name} batch {batch_id} ({record.ingest_date}) reached '{record.completed}':"
                " its MERGE already changed the conformed table, so abandoning it would leave "
                f"history half-applied. Finish it instead: {finish}")
        ensure_conformed(rt, spec)
        batch = _params(rt, spec, record)
        rows = rt.engine.execute(batch.sql("scd2_batch_counts"),
                                 batch.context(STAGING_NS)).dicts()
        touched = int((rows[0].get("rows_opened") or 0) + (rows[0].get("rows_closed") or 0)
                      ) if rows else 0
        if touched:
            raise Refused(
                f"{spec.name} batch {batch_id} ({record.ingest_date}) is recorded as "
                f"'{record.completed}', but {touched:,} conformed rows already carry its id (a "
                "run stopped after its MERGE committed). Finish it instead: " + finish)
        previous = record.state
        record.state = ABANDONED
        record.finished = utc_now()
        record.steps["abandon"] = {"reason": reason, "at": record.finished,
                                   "previous_state": previous}
        record.notes.append(f"abandoned after '{record.completed}': {reason}")
        return ledger.save(record)


# ---- reporting --------------------------------------------------------------------------------

REPORT_COUNTS = ("read", "excluded", "rejected", "duplicates", "staged", "inserted", "updated",
                 "deleted", "unchanged")


def report(record: BatchRecord) -> str:
    """The batch report every run ends with (plain text, stdout)."""
    lines = [
        f"batch      {record.batch_id}",
        f"entity     {record.entity} {record.source} {record.ingest_date}",
        f"state      {record.state}"
        + (f" (after {record.completed})" if record.state == FAILED else ""),
    ]
    for name in REPORT_COUNTS:
        if name in record.counts:
            lines.append(f"{name:<10} {record.counts[name]:>10,}")
    if record.dynamodb:
        d = record.dynamodb
        lines.append(
            f"dynamodb   {d.get('writes', 0):>10,} writes (history {d.get('history_puts', 0):,}, "
            f"current {d.get('current_puts', 0) + d.get('current_updates', 0):,}, search "
            f"+{d.get('token_puts', 0):,} -{d.get('token_deletes', 0):,}, skipped "
            f"{d.get('conditional_skips', 0):,})")
    for step, seconds in record.timings.items():
        lines.append(f"time {step:<6}{seconds:>9.2f} s")
    if record.error:
        lines.append(f"error      {record.error.get('step')}: {record.error.get('message')}")
    lines.extend(f"note       {n}" for n in record.notes)
    return "\n".join(lines)


def status_rows(rt: Runtime, entity: EntitySpec | str) -> list[dict[str, Any]]:
    """One row per batch for ``ppstack status``: id, date, state, counts, timings."""
    spec = get_entity(entity) if isinstance(entity, str) else entity
    out = []
    for r in Ledger(rt.store).list(spec.name):
        row: dict[str, Any] = {"batch_id": r.batch_id, "kind": r.kind,
                               "replay": r.replay_id if r.kind == BATCH else None,
                               "date": r.ingest_date, "source": r.source, "state": r.state}
        row.update({k: r.counts.get(k) for k in REPORT_COUNTS})
        row["seconds"] = round(sum(r.timings.values()), 2)
        row["started"] = r.started
        row["finished"] = r.finished
        row["error"] = (f"{r.error.get('step')}: {r.error.get('message')}" if r.error else None)
        out.append(row)
    return out
