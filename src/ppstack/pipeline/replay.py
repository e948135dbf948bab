"""``ppstack replay ENTITY [--from D] [--to D]``: rebuild the conformed table from the archive.

Late deliveries, a corrected staging rule or a changed entity spec cannot be patched into
history (versions are appended in effective-date order). Instead the archive, which is
immutable, is replayed:

1. **plan**: every archived delivery of the entity dated D or later (``--from``; all without it)
   and not after ``--to``, in increasing date order; one ledger record for the replay (kind
   ``replay``) holds the plan and, as it goes, one batch id per delivery;
2. **rebuild**: a new Iceberg table ``conformed.<entity>_replay_<id>`` gets the history before D
   (``replay_keep_history.sql``) and then every delivery through the same step definitions a
   ``run`` executes (stage -> close -> insert from ``pipeline.steps``), each with its own batch
   ledger record, pointed at the new table;
3. **check**: the SCD2 invariants of the new table (``pipeline.invariants``);
4. **promote**: the current table is renamed ``<entity>_replaced_<id>`` (kept, never deleted) and
   the new one takes its name (the table catalog port: pyiceberg locally, S3 Tables
   ``RenameTable`` on AWS, since Athena cannot rename);
5. **sync**: DynamoDB is brought in step with the promoted table by ``serving.repair`` (puts of
   what differs, V#CURRENT after versions and tokens, then deletes of extra versions and stale
   tokens), so the API keeps answering for every entity that exists before and after.

Everything runs under the entity's lock (a ``run`` waits for it, and a replay waits for a run).
Each phase is safe to repeat and records its completion in the replay's ledger record, so a
replay killed at any point is finished by running the same command again; the batch steps resume
as they do in ``run``, the promotion looks at which tables exist, the sync converges.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ppstack.backends import Runtime, TableRefs
from ppstack.entities import get_entity
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput, NotFound, PpstackError, Refused
from ppstack.layout import CONFORMED_NS, archive_prefix, check_date, new_batch_id
from ppstack.pipeline.batch import BatchParams, context_for
from ppstack.pipeline.invariants import check_invariants
from ppstack.pipeline.killpoints import kill_point
from ppstack.pipeline.ledger import (
    BATCH,
    REPLAY,
    BatchRecord,
    Ledger,
    utc_now,
)
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.spec_check import compare_spec, evolve_staging, record_fields
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE, BatchContext, Step
from ppstack.progress import MeterFactory, Progress, no_meter, quiet
from ppstack.sql import literal, render
from ppstack.sql.params import conformed_table_params, entity_params

# The batch steps a replay runs per delivery: the same definitions ``run`` executes, without
# the per-batch DynamoDB sync (the replay brings DynamoDB in step once, after promotion).
REPLAY_STEPS: tuple[Step, ...] = (STAGE, CLOSE, INSERT)


@dataclass(frozen=True)
class Delivery:
    """One archived delivery: what a replay applies, in (date, source) order."""

    ingest_date: str
    source: str


def _suffix(replay_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", replay_id.lower()).strip("_")


def replay_table(spec: EntitySpec, replay_id: str) -> str:
    return f"{spec.lname}_replay_{_suffix(replay_id)}"


def replaced_table(spec: EntitySpec, replay_id: str) -> str:
    """The dated name the replaced table keeps (the replay id starts with its UTC date)."""
    return f"{spec.lname}_replaced_{_suffix(replay_id)}"


def archived_deliveries(rt: Runtime, spec: EntitySpec) -> list[Delivery]:
    """Every completely archived delivery of the entity (its manifest exists), oldest first."""
    out = []
    for source in spec.sources:
        prefix = archive_prefix(spec.name, source)
        for key in rt.store.list(prefix):
            rest = key[len(prefix):]
            if rest.endswith("/_manifest.json") and rest.count("/") == 1:
                out.append(Delivery(rest.split("/", 1)[0], source))
    return sorted(set(out), key=lambda d: (d.ingest_date, d.source))


def plan_deliveries(rt: Runtime, spec: EntitySpec, from_date: str | None,
                    to_date: str | None) -> list[Delivery]:
    chosen = [d for d in archived_deliveries(rt, spec)
              if (from_date is None or d.ingest_date >= from_date)
              and (to_date is None or d.ingest_date <= to_date)]
    if not chosen:
        window = f" from {from_date}" if from_date else ""
        window += f" to {to_date}" if to_date else ""
        raise BadInput(f"{spec.name} has no archived delivery{window} to replay; see "
                       f"ppstack archive --help")
    return chosen


# ---- dry run ---------------------------------------------------------------------------------

@dataclass
class PlannedDelivery:
    """A delivery a dry run lists, with the changes it is expected to make (None: unknown)."""

    ingest_date: str
    source: str
    staged_batch: str | None
    counts: dict[str, int] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.ingest_date, "source": self.source,
                "staged_batch": self.staged_batch, "counts": self.counts, "note": self.note}


def _fingerprints(rt: Runtime, template: str, params: dict[str, str]) -> dict[str, str]:
    return {str(k): str(f) for k, f in rt.engine.execute(render(template, params)).rows}


def dry_run(rt: Runtime, spec: EntitySpec, from_date: str | None = None,
            to_date: str | None = None) -> list[PlannedDelivery]:
    """The deliveries a replay would apply and the changes each is expected to make.

    After a batch is applied, the current rows are exactly its staged rows, so a delivery's
    changes are the differences between its staged rows and the previous delivery's (or, for
    the first one with ``--from D``, the versions in force on D-1). A delivery that was never
    staged (a late one) has unknown counts, and so has the one after it. Nothing is written.
    """
    deliveries = plan_deliveries(rt, spec, from_date, to_date)
    staged: dict[Delivery, str] = {}
    for r in Ledger(rt.store).list(spec.name):
        if r.kind == BATCH and r.reached("staged"):
            staged[Delivery(r.ingest_date, r.source)] = r.batch_id  # latest wins
    params = entity_params(spec, rt.engine, rt.settings.bucket)
    previous: dict[str, str] | None = {}
    if from_date is not None and rt.tables.exists(CONFORMED_NS, spec.conformed_table):
        previous = _fingerprints(rt, "select_in_force",
                                 {**params, "from_date": f"DATE {literal(from_date)}"})
    out = []
    for d in deliveries:
        batch = staged.get(d)
        item = PlannedDelivery(d.ingest_date, d.source, batch)
        if batch is None:
            item.note = "never staged: counts known once replayed"
            previous = None
        else:
            rows = _fingerprints(rt, "select_staged_fingerprints",
                                 {**params, "batch_id": literal(batch)})
            if previous is not None:
                item.counts = change_counts(previous, rows)
            else:
                item.note = "follows a delivery that was never staged: counts unknown"
            previous = rows
        out.append(item)
    return out


def change_counts(before: dict[str, str], after: dict[str, str]) -> dict[str, int]:
    """inserted / updated / deleted / unchanged keys between two full snapshots."""
    both = before.keys() & after.keys()
    updated = sum(1 for k in both if before[k] != after[k])
    return {"inserted": len(after.keys() - before.keys()), "updated": updated,
            "deleted": len(before.keys() - after.keys()), "unchanged": len(both) - updated}


# ---- the replay -------------------------------------------------------------------------------

@dataclass
class Replay:
    """One replay being run: its spec, record and options."""

    rt: Runtime
    spec: EntitySpec
    record: BatchRecord
    allow_mass_delete: bool = False
    progress: Progress = quiet
    meter: MeterFactory = no_meter
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.rt.store)

    @property
    def plan(self) -> dict[str, Any]:
        return self.record.replay

    @property
    def table(self) -> str:
        return str(self.plan["table"])

    def phase(self, state: str, run: Callable[[], dict[str, Any]]) -> None:
        """Run one phase unless the record already reached it; record its result and time."""
        if self.record.reached(state):
            return
        self.progress(f"replay {state} ...")
        started = time.perf_counter()
        try:
            result = run()
        except Exception as e:
            self.record.error = {"step": state, "type": type(e).__name__, "message": str(e),
                                 "at": utc_now()}
            self.record.state = "failed"
            self.record.timings[state] = round(time.perf_counter() - started, 3)
            self.ledger.save(self.record)
            raise
        self.record.timings[state] = round(time.perf_counter() - started, 3)
        self.record.steps[state] = result
        self.record.state = self.record.completed = state
        self.record.error = None
        if state == self.record.final_state:
            self.record.finished = utc_now()
        self.ledger.save(self.record)

    # ---- phase 2: rebuild ----
    def rebuild(self) -> dict[str, Any]:
        rt, spec = self.rt, self.spec
        evolve_staging(rt, spec)  # a spec that gained a field: the stable staging table shows it
        # The new table, by the same DDL as the entity's own (on AWS too: the deployment made
        # only the entity's table).
        refs = TableRefs(rt.settings.backend, rt.settings.table_bucket)
        params = entity_params(spec, refs, rt.settings.bucket)
        params.update(conformed_table_params(refs, self.table))
        rt.engine.execute(render("ddl_conformed", params),
                          context_for(rt.settings.backend, rt.settings.table_bucket, CONFORMED_NS))
        record_fields(rt, spec, self.table)
        kept = 0
        from_date = self.plan.get("from")
        if from_date and rt.tables.exists(CONFORMED_NS, spec.conformed_table):
            new_ref = rt.engine.table_ref(CONFORMED_NS, self.table)
            if not rt.engine.execute(f"SELECT count(*) FROM {new_ref}").scalar():
                params = entity_params(spec, rt.engine, rt.settings.bucket)
                params.update(replay_table=new_ref, from_date=f"DATE {literal(from_date)}")
                kept = rt.engine.execute(render("replay_keep_history", params)).rowcount or 0
        kill_point("after_history")
        counts: dict[str, int] = {}
        for entry in self.plan["deliveries"]:
            record = self.delivery_record(entry)
            if not record.complete:
                from ppstack.pipeline.run import run_steps

                batch = BatchParams.build(rt.settings, spec, entry["source"], entry["date"],
                                          record.batch_id).for_table(self.table)
                ctx = BatchContext(rt=rt, spec=spec, source=entry["source"], record=record,
                                   allow_mass_delete=self.allow_mass_delete,
                                   progress=self.progress, meter=self.meter, batch=batch)
                self.progress(f"replaying {entry['date']} ({entry['source']}) as batch "
                              f"{record.batch_id}")
                run_steps(ctx, REPLAY_STEPS)
                kill_point("after_batch")
            for k in ("inserted", "updated", "deleted"):
                counts[k] = counts.get(k, 0) + int(record.counts.get(k, 0))
        self.record.counts.update(counts)
        return {"kept_history_rows": kept, "batches": len(self.plan["deliveries"])}

    def delivery_record(self, entry: dict[str, Any]) -> BatchRecord:
        """The ledger record of one replayed delivery: its id is saved in the replay's record
        first, then the record is created, so a crash between the two never makes a second."""
        from ppstack.pipeline.run import raw_files

        if not entry.get("batch_id"):
            entry["batch_id"] = new_batch_id()
            self.ledger.save(self.record)
        try:
            return self.ledger.load(self.spec.name, entry["batch_id"])
        except NotFound:
            record = BatchRecord(entity=self.spec.name, source=entry["source"],
                                 ingest_date=entry["date"], batch_id=entry["batch_id"],
                                 final_state=REPLAY_STEPS[-1].state,
                                 raw=raw_files(self.rt, self.spec, entry["source"], entry["date"]),
                                 replay={"id": self.record.batch_id, "table": self.table})
            return self.ledger.create(record)

    # ---- phase 3: check ----
    def check(self) -> dict[str, Any]:
        """The SCD2 invariants of the new table, key range by key range (every invariant is
        about one key's versions, so no range needs another's rows)."""
        from ppstack.serving.read import rows_by_range

        problems: list[str] = []
        rows = current = 0
        for part in rows_by_range(self.rt, self.spec, table=self.table):
            problems += check_invariants(None, part, self.spec.key, raise_on_violation=False)
            rows += len(part)
            current += sum(1 for r in part if r["is_current"])
        if problems:
            shown = "; ".join(problems[:5])
            raise PpstackError(
                f"replayed table conformed.{self.table} breaks {len(problems)} SCD2 invariant(s) "
                f"({shown}); conformed.{self.spec.lname} was not changed and the replayed table "
                "is kept for inspection")
        return {"rows": rows, "current_keys": current}

    # ---- phase 4: promote ----
    def promote(self) -> dict[str, Any]:
        """Old table -> dated name, new table -> the entity's name; repeatable after a crash
        between the two renames (it looks at which tables exist)."""
        tables, spec = self.rt.tables, self.spec
        name, replaced = spec.conformed_table, str(self.plan["replaced"])
        kill_point("before_promote")
        kept = None
        if tables.exists(CONFORMED_NS, self.table):
            if tables.exists(CONFORMED_NS, name):
                if tables.exists(CONFORMED_NS, replaced):
                    raise PpstackError(f"cannot promote: conformed.{name} and conformed."
                                       f"{replaced} both exist; rename one of them by hand")
                tables.rename(CONFORMED_NS, name, replaced)
                kept = replaced
                kill_point("between_renames")
            tables.rename(CONFORMED_NS, self.table, name)
        elif tables.exists(CONFORMED_NS, replaced):
            kept = replaced
        kill_point("after_promote")
        return {"promoted": self.table, "replaced_kept_as": kept}

    # ---- phase 5: DynamoDB ----
    def sync(self) -> dict[str, Any]:
        from ppstack.serving.read import batch_dates
        from ppstack.serving.repair import repair_by_ranges

        rt, spec = self.rt, self.spec
        # the shared projection, with what reconcile gives it (every item kind follows the
        # promoted table: versions, tokens, rank, change and batch items), made key range by
        # key range so that memory stays that of one range (the full directory's 2.1M items
        # held at once took about 10 GB)
        bar = self.meter(f"replay sync {spec.name}")
        try:
            stats = repair_by_ranges(rt, spec, batch_of_date=batch_dates(rt, spec), meter=bar)
        finally:
            bar.close()
        self.record.dynamodb = stats.to_dict()
        return stats.to_dict()

    def run(self) -> BatchRecord:
        self.phase("rebuilt", self.rebuild)
        self.phase("checked", self.check)
        self.phase("promoted", self.promote)
        self.phase("synced", self.sync)
        return self.record


def _unfinished(records: list[BatchRecord]) -> tuple[BatchRecord | None, BatchRecord | None]:
    """(an unfinished replay, an unfinished ordinary batch), each the latest or None."""
    replay = next((r for r in reversed(records) if r.kind == REPLAY and not r.complete), None)
    batch = next((r for r in reversed(records) if r.kind == BATCH and not r.replay
                  and not r.complete and r.state != "abandoned"), None)
    return replay, batch


def replay_command(spec: EntitySpec, from_date: str | None, to_date: str | None) -> str:
    return " ".join(["ppstack replay", spec.name]
                    + ([f"--from {from_date}"] if from_date else [])
                    + ([f"--to {to_date}"] if to_date else []))


def start_or_resume(rt: Runtime, spec: EntitySpec, from_date: str | None, to_date: str | None,
                    progress: Progress) -> BatchRecord:
    """The replay record to work on: the unfinished one with the same window, or a new one."""
    ledger = Ledger(rt.store)
    replay, batch = _unfinished(ledger.list(spec.name))
    if replay is not None:
        same = (replay.replay.get("from"), replay.replay.get("to")) == (from_date, to_date)
        if not same:
            raise Refused(
                f"{spec.name} replay {replay.batch_id} is not finished (phase "
                f"'{replay.completed}'); finish it first: "
                + replay_command(spec, replay.replay.get("from"), replay.replay.get("to")))
        progress(f"resuming replay {replay.batch_id} after '{replay.completed}'")
        replay.attempts += 1
        replay.state = replay.completed
        return ledger.save(replay)
    if batch is not None:
        raise Refused(
            f"{spec.name} batch {batch.batch_id} for {batch.ingest_date} is not finished; finish "
            f"it first (ppstack run {spec.name} {batch.source} --date {batch.ingest_date}) or "
            f"abandon it (ppstack abandon {spec.name} --batch-id {batch.batch_id} --reason ...)")
    deliveries = plan_deliveries(rt, spec, from_date, to_date)
    if from_date and rt.tables.exists(CONFORMED_NS, spec.conformed_table):
        change = compare_spec(rt, spec)
        if change is not None:
            raise Refused(f"{spec.name} entity spec changed ({change.describe()}): the history "
                          f"before {from_date} has fingerprints over the old fields, so a partial "
                          f"replay would mix both. Replay all of it: ppstack replay {spec.name}")
    replay_id = new_batch_id()
    record = BatchRecord(
        entity=spec.name, source=",".join(sorted({d.source for d in deliveries})),
        ingest_date=deliveries[0].ingest_date, batch_id=replay_id, kind=REPLAY,
        state="planned", completed="planned", final_state="synced",
        replay={"from": from_date, "to": to_date, "table": replay_table(spec, replay_id),
                "replaced": replaced_table(spec, replay_id),
                "deliveries": [{"date": d.ingest_date, "source": d.source, "batch_id": None}
                               for d in deliveries]})
    progress(f"new replay {replay_id}: {len(deliveries)} deliveries into "
             f"conformed.{record.replay['table']}")
    return ledger.create(record)


def replay(rt: Runtime, entity: EntitySpec | str, *, from_date: str | None = None,
           to_date: str | None = None, allow_mass_delete: bool = False,
           progress: Progress = quiet, meter: MeterFactory = no_meter) -> BatchRecord:
    """Rebuild ``conformed.<entity>`` from the archive and promote it; returns the replay's
    ledger record. Refused while another batch or replay holds the entity's lock."""
    spec = get_entity(entity) if isinstance(entity, str) else entity
    for value, what in ((from_date, "--from"), (to_date, "--to")):
        if value is not None:
            check_date(value, what)
    if from_date and to_date and to_date < from_date:
        raise BadInput(f"--to {to_date} is before --from {from_date}")
    with EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds,
                    purpose="replay") as lock:
        for note in lock.notes:
            progress(note)
        record = start_or_resume(rt, spec, from_date, to_date, progress)
        if lock.notes:
            record.notes.extend(lock.notes)
        return Replay(rt, spec, record, allow_mass_delete=allow_mass_delete, progress=progress,
                      meter=meter).run()


def replay_report(record: BatchRecord, batches: list[BatchRecord]) -> str:
    """What a replay did, for stdout."""
    plan = record.replay
    lines = [f"replay     {record.batch_id}",
             f"entity     {record.entity} from {plan.get('from') or 'the first delivery'}"
             + (f" to {plan['to']}" if plan.get("to") else ""),
             f"state      {record.state}"]
    promoted = record.steps.get("promoted", {})
    if promoted:
        lines.append(f"table      conformed.{record.entity.lower()} (was conformed."
                     f"{promoted.get('promoted')}); replaced table kept as conformed."
                     f"{promoted.get('replaced_kept_as')}")
    for b in batches:
        c = b.counts
        lines.append(f"delivery   {b.ingest_date} {b.source} batch {b.batch_id} {b.state}: "
                     f"+{c.get('inserted', 0):,} ~{c.get('updated', 0):,} "
                     f"-{c.get('deleted', 0):,}")
    if record.dynamodb:
        d = record.dynamodb
        lines.append(f"dynamodb   {d.get('writes', 0):,} writes (missing {d.get('missing', 0):,}, "
                     f"different {d.get('stale', 0):,}, extra deleted {d.get('extra', 0):,})")
    for step, seconds in record.timings.items():
        lines.append(f"time {step:<9}{seconds:>9.2f} s")
    if record.error:
        lines.append(f"error      {record.error.get('step')}: {record.error.get('message')}")
    return "\n".join(lines)


def replay_batches(rt: Runtime, record: BatchRecord) -> list[BatchRecord]:
    ledger = Ledger(rt.store)
    out = []
    for entry in record.replay.get("deliveries", []):
        if entry.get("batch_id"):
            try:
                out.append(ledger.load(record.entity, entry["batch_id"]))
            except NotFound:
                continue
    return out

