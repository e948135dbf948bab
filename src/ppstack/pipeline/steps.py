"""The batch steps: stage -> close -> insert -> sync, one ordered tuple.

Every step has the same signature, ``(ctx: BatchContext) -> dict``, returns what it wants
recorded in the ledger, and is safe to repeat: the runner re-runs a step whose completion was not
recorded (a kill between the Iceberg commit and the ledger write), so each step must converge on
the same state however often it runs.

- stage:  raw renditions -> ``staging/<ENTITY>/<batch_id>/`` (``pipeline.stage``).
- close:  mass-delete guard, then ``scd2_close.sql`` (ONE MERGE = one Iceberg commit).
- insert: ``scd2_insert.sql`` (ONE INSERT ... SELECT = one Iceberg commit), then the batch's
          inserted / updated / deleted / unchanged counts read back by batch id.
- sync:   DynamoDB from the rows carrying this batch id (``serving.sync.sync_batch``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ppstack.backends import Runtime
from ppstack.entities import get_source
from ppstack.entities.spec import EntitySpec
from ppstack.pipeline.guards import check_mass_delete
from ppstack.pipeline.ledger import BatchRecord
from ppstack.progress import MeterFactory, no_meter
from ppstack.sql import render
from ppstack.sql.params import batch_params, entity_params


@dataclass
class BatchContext:
    """Everything a step needs; steps read it and return their results, the runner records them."""

    rt: Runtime
    spec: EntitySpec
    source: str
    record: BatchRecord
    allow_mass_delete: bool = False
    progress: Callable[[str], None] = field(default=lambda _msg: None)
    meter: MeterFactory = no_meter  # progress bars for long loops (the DynamoDB sync)

    @property
    def batch_id(self) -> str:
        return self.record.batch_id

    @property
    def ingest_date(self) -> str:
        return self.record.ingest_date

    @property
    def params(self) -> dict[str, str]:
        return scd2_params(self.rt, self.spec, self.source, self.batch_id, self.ingest_date)


def scd2_params(rt: Runtime, spec: EntitySpec, source: str, batch_id: str,
                effective_date: str) -> dict[str, str]:
    """Template parameters of the SCD2 statements of one batch.

    The entity's names plus the batch values every per-batch template shares
    (``sql.params.batch_params``): ``{{batch_id}}`` as a quoted literal, ``{{effective_date}}``
    and ``{{ingestion_timestamp}}`` as typed literals. The ingestion timestamp is the instant
    encoded in the batch id, so re-running a step writes exactly the same values, and staging and
    conformed rows of one batch carry the same stamp.
    """
    params = entity_params(spec, rt.engine, rt.settings.bucket)
    params.update(batch_params(spec, get_source(spec, source), effective_date, batch_id,
                               rt.settings.bucket))
    return params


def ensure_conformed(rt: Runtime, spec: EntitySpec) -> None:
    """``CREATE TABLE IF NOT EXISTS`` the conformed Iceberg table (safe before every run)."""
    rt.engine.execute(render("ddl_conformed", entity_params(spec, rt.engine, rt.settings.bucket)))


# ---- the steps --------------------------------------------------------------------------------

def stage_step(ctx: BatchContext) -> dict[str, Any]:
    """Raw renditions of the ingest date -> this batch's staging prefix (one row per key)."""
    from ppstack.pipeline.stage import stage  # lazy: owned by the staging layer

    result = stage(ctx.rt, ctx.spec, ctx.source, ctx.ingest_date, ctx.batch_id)
    out = result.to_dict()
    counts = {
        "read": out.get("rows_read"),
        "excluded": out.get("excluded"),
        "rejected": out.get("rejected"),
        "duplicates": out.get("duplicates"),
        "staged": out.get("staged"),
        "invalid_dates": out.get("invalid_dates"),
    }
    out["counts"] = {k: v for k, v in counts.items() if v is not None}
    return out


def close_step(ctx: BatchContext) -> dict[str, Any]:
    """Guard, then the one MERGE that closes changed and disappeared current rows."""
    params = ctx.params
    guard = check_mass_delete(ctx.rt.engine, params, entity=ctx.spec.name,
                              max_share=ctx.rt.settings.mass_delete_share,
                              allow=ctx.allow_mass_delete)
    result = ctx.rt.engine.execute(render("scd2_close", params))
    return {"guard": guard, "closed_rows": result.rowcount or 0}


def insert_step(ctx: BatchContext) -> dict[str, Any]:
    """The one INSERT ... SELECT that opens new current rows, then the batch's counts."""
    params = ctx.params
    result = ctx.rt.engine.execute(render("scd2_insert", params))
    counts = batch_counts(ctx.rt, ctx.spec, ctx.source, ctx.batch_id, ctx.ingest_date)
    staged = ctx.record.counts.get("staged")
    if staged is not None:
        counts["unchanged"] = int(staged) - counts["inserted"] - counts["updated"]
    return {"opened_rows": result.rowcount or 0, "counts": counts}


def sync_step(ctx: BatchContext) -> dict[str, Any]:
    """DynamoDB from the conformed rows of this batch (re-runnable: it converges)."""
    from ppstack.serving.sync import sync_batch  # lazy: owned by the serving layer

    bar = ctx.meter(f"sync {ctx.spec.name}")
    try:
        stats = sync_batch(ctx.rt, ctx.spec, ctx.batch_id, progress=bar.step, on_total=bar.total)
    finally:
        bar.close()
    return {"dynamodb": stats.to_dict()}


def batch_counts(rt: Runtime, spec: EntitySpec, source: str, batch_id: str,
                 effective_date: str) -> dict[str, int]:
    """inserted / updated / deleted keys of a batch, read back from the table by batch id."""
    params = scd2_params(rt, spec, source, batch_id, effective_date)
    rows = rt.engine.execute(render("scd2_batch_counts", params)).dicts()
    row = rows[0] if rows else {}
    return {k: int(row.get(k) or 0) for k in ("inserted", "updated", "deleted")}


class Step(NamedTuple):
    name: str  # what the ledger calls the step (timings, errors)
    state: str  # the ledger state a batch reaches when the step completes
    run: Callable[[BatchContext], dict[str, Any]]


STAGE = Step("stage", "staged", stage_step)
CLOSE = Step("close", "closed", close_step)
INSERT = Step("insert", "inserted", insert_step)
SYNC = Step("sync", "synced", sync_step)

STEPS: tuple[Step, ...] = (STAGE, CLOSE, INSERT, SYNC)


def default_steps() -> tuple[Step, ...]:
    """The product pipeline: stage -> close -> insert -> sync."""
    return STEPS


def replace_step(steps: tuple[Step, ...], name: str, run: Callable[[BatchContext], dict[str, Any]]
                 ) -> tuple[Step, ...]:
    """The same pipeline with one step's function swapped (tests stage from prepared Parquet)."""
    return tuple(s._replace(run=run) if s.name == name else s for s in steps)
