"""``ppstack sync ENTITY --batch-id B``: bring DynamoDB in step with one conformed batch.

``sync_rows`` is the worker (rows in, writes out; testable without an engine); ``sync_batch``
reads the batch's rows through the SQL engine and calls it. The pipeline calls ``sync_batch`` as
the last step of ``ppstack run`` and stores ``SyncStats.to_dict()`` in the batch ledger.

Precondition (docs/sync.md#why-it-converges): batch B is synced when DynamoDB holds the state
batch B-1 left, i.e. right after conformed received B. Only token *differences* are written,
so tokens a key keeps across B are assumed present. Re-running B later is safe (keys a newer
batch wrote are skipped), but to populate an empty or drifted table use ``--rebuild``, not a
replay of every batch: a closed row is restamped with the batch that closed it, so old
batches' rows no longer describe what those batches did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ppstack.backends import paces_writes
from ppstack.entities.spec import EntitySpec
from ppstack.errors import PpstackError
from ppstack.layout import check_batch_id
from ppstack.progress import NULL_METER, Meter
from ppstack.serving.apply import DEFAULT_CHUNK, DEFAULT_WORKERS, Applier, SyncStats
from ppstack.serving.pace import KeyPacer
from ppstack.serving.plan import EntityPlan, plan_entity
from ppstack.serving.projection import Row, group_by_key
from ppstack.serving.read import as_spec, batch_rows
from ppstack.serving.retry import DEFAULT_BACKOFF, PATIENT_BACKOFF
from ppstack.serving.table import ensure_table

__all__ = ["SyncStats", "batch_groups", "plan_batch", "sync_batch", "sync_rows"]


def batch_groups(spec: EntitySpec, batch_id: str, rows: Iterable[Row]) -> dict[str, list[Row]]:
    """The batch's rows by key, refusing rows of another batch."""
    rows = list(rows)
    foreign = {str(r["ingestion_batch_id"]) for r in rows} - {batch_id}
    if foreign:
        raise PpstackError(f"sync of batch {batch_id} was given rows of {sorted(foreign)}")
    return group_by_key(spec, rows)


def plan_batch(spec: EntitySpec, batch_id: str, rows: Iterable[Row]) -> list[EntityPlan]:
    """One plan per key of the batch, in key order (pure)."""
    groups = batch_groups(spec, batch_id, rows)
    return [plan_entity(spec, groups[k]) for k in sorted(groups)]


def sync_rows(
    rt: Any,
    spec: EntitySpec,
    batch_id: str,
    rows: Iterable[Row],
    *,
    workers: int = DEFAULT_WORKERS,
    chunk_size: int = DEFAULT_CHUNK,
    meter: Meter = NULL_METER,
) -> SyncStats:
    """Apply batch ``batch_id`` given its conformed rows; safe to repeat, any time.

    ``meter`` counts entities: its total once they are planned, a step per written chunk.
    """
    check_batch_id(batch_id)
    groups = batch_groups(spec, batch_id, rows)
    meter.total(len(groups))
    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    # Plans are made chunk by chunk as the applier asks for them: a full initial load (180k
    # keys, ~1.8M token items) never holds every plan at once.
    plans = (plan_entity(spec, groups[k]) for k in sorted(groups))
    paced = paces_writes(rt.settings)  # AWS: one paced writer per hot partition key
    applier = Applier(rt.dynamodb, rt.settings.dynamodb_table, workers,
                      backoff=PATIENT_BACKOFF if paced else DEFAULT_BACKOFF,
                      pacer=KeyPacer() if paced else None)
    return applier.apply(plans, chunk_size, meter)


def sync_batch(rt: Any, spec: EntitySpec | str, batch_id: str, **kwargs: Any) -> SyncStats:
    """Read batch ``batch_id`` from ``conformed.<entity>`` through the engine and sync it."""
    spec = as_spec(spec)
    return sync_rows(rt, spec, batch_id, batch_rows(rt, spec, check_batch_id(batch_id)), **kwargs)
