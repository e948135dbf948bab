"""The batch steps: stage -> close -> insert -> sync, each defined once.

A step is a ``StepDefinition`` of three parts, run in this order:

- ``check``: Python before its SQL (the mass-delete guard of close); what it returns is kept for
  the ledger. Raising stops the batch before anything is written.
- ``statements``: the SQL it runs, in order, each with its execution context (``Statement``).
- ``finish``: Python after the SQL: reads the results back (staging counts, the batch's
  inserted / updated / deleted / unchanged) or does the step's own work (the DynamoDB sync), and
  returns what the ledger records for the step.

Two drivers execute these definitions and nothing else: ``StepDefinition.run`` (the local runner,
``pipeline.run``: check, each statement on the engine, finish) and ``pipeline.aws_steps`` (Step
Functions: a Lambda runs check and finish, the state machine ships the statements to Athena
``.sync`` tasks). ``ppstack sql render`` prints the same statements.

Every step is safe to repeat: the runner re-runs a step whose completion was not recorded (a kill
between the Iceberg commit and the ledger write), so each converges on the same state however
often it runs.

- stage:  DDL, rejects CTAS, batch CTAS (each left out once written), DROPs; counts read back.
- close:  mass-delete guard, then ``scd2_close.sql`` (ONE MERGE = one Iceberg commit).
- insert: ``scd2_insert.sql`` (ONE INSERT ... SELECT = one Iceberg commit), then the batch's
          inserted / updated / deleted / unchanged counts read back by batch id.
- sync:   DynamoDB from the rows carrying this batch id (``serving.sync.sync_batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ppstack.backends import Runtime, TableRefs, created_by_deployment
from ppstack.entities.spec import EntitySpec
from ppstack.layout import CONFORMED_NS, STAGING_NS
from ppstack.pipeline.batch import BatchParams, Statement, context_for
from ppstack.pipeline.guards import check_mass_delete
from ppstack.pipeline.ledger import BatchRecord
from ppstack.progress import MeterFactory, Progress, no_meter, quiet
from ppstack.settings import Settings
from ppstack.sql import render
from ppstack.sql.params import entity_params


@dataclass
class BatchContext:
    """Everything a step needs; steps read it and return their results, the runner records them.

    ``batch`` is the batch's frozen parameters, built once by the runner; when a caller leaves it
    out it is built from the record.
    """

    rt: Runtime
    spec: EntitySpec
    source: str
    record: BatchRecord
    allow_mass_delete: bool = False
    progress: Progress = quiet
    meter: MeterFactory = no_meter  # progress bars for long loops (the DynamoDB sync)
    batch: BatchParams = None  # type: ignore[assignment]  # filled in by __post_init__

    def __post_init__(self) -> None:
        if self.batch is None:
            self.batch = BatchParams.build(self.rt.settings, self.spec, self.source,
                                           self.record.ingest_date, self.record.batch_id)

    @property
    def batch_id(self) -> str:
        return self.record.batch_id

    @property
    def ingest_date(self) -> str:
        return self.record.ingest_date

    @property
    def params(self) -> dict[str, str]:
        return dict(self.batch.params)

    def written(self, prefix: str) -> bool:
        """Whether ``prefix`` of the archive bucket holds files (a CTAS already wrote it)."""
        return bool(self.rt.store.list(prefix))


Check = Callable[[BatchContext], dict[str, Any]]
# (batch, written) -> statements; ``written(prefix)`` says whether a prefix already holds files
Statements = Callable[[BatchParams, Callable[[str], bool]], list[Statement]]
Finish = Callable[[BatchContext, dict[str, Any], Sequence[int | None]], dict[str, Any]]


def no_check(_ctx: BatchContext) -> dict[str, Any]:
    return {}


def no_statements(_batch: BatchParams, _written: Callable[[str], bool]) -> list[Statement]:
    return []


def nothing_written(_prefix: str) -> bool:
    """``written`` for rendering: as if the batch had not started."""
    return False


@dataclass(frozen=True)
class StepDefinition:
    """One step, once: its check, its statements and how its result reaches the ledger."""

    name: str  # what the ledger calls the step (timings, errors, ``steps``)
    state: str  # the ledger state a batch reaches when the step completes
    check: Check = no_check
    statements: Statements = no_statements
    finish: Finish = lambda _ctx, checked, _rows: dict(checked)

    def run(self, ctx: BatchContext) -> dict[str, Any]:
        """The local driver: check, every statement on the engine in order, finish."""
        checked = self.check(ctx)
        rowcounts = [ctx.rt.engine.execute(s.sql, s.context).rowcount
                     for s in self.statements(ctx.batch, ctx.written)]
        return self.finish(ctx, checked, rowcounts)

    def step(self) -> Step:
        return Step(self.name, self.state, self.run, self)


class Step(NamedTuple):
    """What the runner iterates: a definition, with the function the local runner calls (tests
    swap ``run``, e.g. for a stage step that writes prepared Parquet)."""

    name: str
    state: str
    run: Callable[[BatchContext], dict[str, Any]]
    definition: StepDefinition | None = None


# ---- setup: the DDL a batch needs before its ledger record exists ----------------------------

def setup_statements(settings: Settings, spec: EntitySpec) -> list[Statement]:
    """``CREATE TABLE IF NOT EXISTS`` the conformed Iceberg table (the guards read it before a
    batch opens); nothing on AWS, where the deployment created it."""
    if created_by_deployment(settings.backend, "ddl_conformed"):
        return []
    params = entity_params(spec, TableRefs(settings.backend, settings.table_bucket),
                           settings.bucket)
    context = context_for(settings.backend, settings.table_bucket, CONFORMED_NS)
    return [Statement("ddl_conformed", render("ddl_conformed", params), context)]


def ensure_conformed(rt: Runtime, spec: EntitySpec) -> None:
    """Run ``setup_statements`` (safe before every run)."""
    for statement in setup_statements(rt.settings, spec):
        rt.engine.execute(statement.sql, statement.context)


def setup_batch(rt: Runtime, spec: EntitySpec, source: str, ingest_date: str, *,
                accept_spec_change: bool = False) -> str | None:
    """What both drivers run under the lock before a batch's ledger record exists: the
    conformed table (``setup_statements``), then the spec check (``spec_check.check_before_run``:
    the tables gain the columns a newer version added, and a spec whose fingerprint fields
    differ from the table's is refused before anything is recorded, unless accepted). Returns
    the ledger note of an accepted spec change, else None."""
    from ppstack.pipeline.spec_check import check_before_run  # lazy: it imports the batch layer

    ensure_conformed(rt, spec)
    return check_before_run(rt, spec, source, ingest_date, accept=accept_spec_change)


# ---- stage ------------------------------------------------------------------------------------

def _stage_check(ctx: BatchContext) -> dict[str, Any]:
    from ppstack.pipeline.stage import require_archived  # lazy: owned by the staging layer

    require_archived(ctx.rt, ctx.spec, ctx.batch.source, ctx.ingest_date)
    return {}


def _stage_statements(batch: BatchParams, written: Callable[[str], bool]) -> list[Statement]:
    from ppstack.pipeline.stage import stage_statements

    return stage_statements(batch, written)


def _stage_finish(ctx: BatchContext, _checked: dict[str, Any],
                  _rows: Sequence[int | None]) -> dict[str, Any]:
    from ppstack.pipeline.killpoints import kill_point
    from ppstack.pipeline.stage import ledger_result, stage_counts

    kill_point("during_staging")  # tests only: the statements ran, the ledger says nothing yet
    return ledger_result(stage_counts(ctx.rt, ctx.batch))


# ---- close ------------------------------------------------------------------------------------

def _close_check(ctx: BatchContext) -> dict[str, Any]:
    return {"guard": check_mass_delete(ctx.rt.engine, ctx.batch,
                                       max_share=ctx.rt.settings.mass_delete_threshold,
                                       allow=ctx.allow_mass_delete)}


def _close_statements(batch: BatchParams, _written: Callable[[str], bool]) -> list[Statement]:
    return [batch.statement("scd2_close", STAGING_NS)]


def _close_finish(_ctx: BatchContext, checked: dict[str, Any],
                  rows: Sequence[int | None]) -> dict[str, Any]:
    return {**checked, **_rows_written("closed_rows", rows)}


# ---- insert -----------------------------------------------------------------------------------

def _insert_statements(batch: BatchParams, _written: Callable[[str], bool]) -> list[Statement]:
    return [batch.statement("scd2_insert", STAGING_NS)]


def _insert_finish(ctx: BatchContext, checked: dict[str, Any],
                   rows: Sequence[int | None]) -> dict[str, Any]:
    counts = batch_counts(ctx.rt, ctx.batch)
    staged = ctx.record.counts.get("staged")
    if staged is not None:
        counts["unchanged"] = int(staged) - counts["inserted"] - counts["updated"]
    return {**checked, **_rows_written("opened_rows", rows), "counts": counts}


def batch_counts(rt: Runtime, batch: BatchParams) -> dict[str, int]:
    """inserted / updated / deleted keys of a batch, read back from the table by batch id."""
    rows = rt.engine.execute(batch.sql("scd2_batch_counts"), batch.context(STAGING_NS)).dicts()
    row = rows[0] if rows else {}
    return {k: int(row.get(k) or 0) for k in ("inserted", "updated", "deleted")}


def _rows_written(name: str, rows: Sequence[int | None]) -> dict[str, int]:
    """``{name: rows}`` from the statements' row counts (absent when the engine gave none)."""
    known = [r for r in rows if r is not None]
    return {name: sum(known)} if known else {}


# ---- sync -------------------------------------------------------------------------------------

def _sync_finish(ctx: BatchContext, _checked: dict[str, Any],
                 _rows: Sequence[int | None]) -> dict[str, Any]:
    from ppstack.serving.slices import completed_stats  # lazy: owned by the serving layer
    from ppstack.serving.sync import sync_batch

    done = completed_stats(ctx.rt, ctx.spec, ctx.batch_id)  # AWS: slices already applied it
    if done is not None:
        return {"dynamodb": done}
    bar = ctx.meter(f"sync {ctx.spec.name}")
    try:
        stats = sync_batch(ctx.rt, ctx.spec, ctx.batch_id, meter=bar)
    finally:
        bar.close()
    return {"dynamodb": stats.to_dict()}


STAGE_DEFINITION = StepDefinition("stage", "staged", check=_stage_check,
                                  statements=_stage_statements, finish=_stage_finish)
CLOSE_DEFINITION = StepDefinition("close", "closed", check=_close_check,
                                  statements=_close_statements, finish=_close_finish)
INSERT_DEFINITION = StepDefinition("insert", "inserted", statements=_insert_statements,
                                   finish=_insert_finish)
SYNC_DEFINITION = StepDefinition("sync", "synced", finish=_sync_finish)

STAGE = STAGE_DEFINITION.step()
CLOSE = CLOSE_DEFINITION.step()
INSERT = INSERT_DEFINITION.step()
SYNC = SYNC_DEFINITION.step()

STEPS: tuple[Step, ...] = (STAGE, CLOSE, INSERT, SYNC)

# The local functions of the steps (tests and benches call them directly).
stage_step = STAGE_DEFINITION.run
close_step = CLOSE_DEFINITION.run
insert_step = INSERT_DEFINITION.run
sync_step = SYNC_DEFINITION.run


def default_steps() -> tuple[Step, ...]:
    """The product pipeline: stage -> close -> insert -> sync."""
    return STEPS


def definitions() -> tuple[StepDefinition, ...]:
    """The product steps' definitions, in order (what the AWS driver ships, what
    ``ppstack sql render`` prints)."""
    return tuple(s.definition for s in STEPS if s.definition is not None)


def replace_step(steps: tuple[Step, ...], name: str, run: Callable[[BatchContext], dict[str, Any]]
                 ) -> tuple[Step, ...]:
    """The same pipeline with one step's function swapped (tests stage from prepared Parquet)."""
    return tuple(s._replace(run=run) if s.name == name else s for s in steps)
