"""The DynamoDB sync of one batch in time-boxed slices with a durable checkpoint (AWS).

Why: a first full load writes about 2.1 million items, 1.9 million of them under the one
partition key ``SEARCH#DRUG``. DynamoDB caps every partition at 1,000 write units per second
(on-demand too), so that partition alone needs about 32 minutes, and a Lambda function runs
for at most 15. ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
ref: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html

So each invocation (``sync_slice``) applies chunks of entities in key order, exactly as
``sync.sync_rows`` does, and after every chunk writes a checkpoint to the object store
(``checkpoints/<ENTITY>/<batch_id>/sync.json``: the last key applied and the counts so far).
Before starting a chunk it checks the time left against twice the longest chunk so far plus a
reserve, and returns ``done = False`` when it might not fit; the state machine then invokes it
again. A new invocation starts after the checkpoint's key, so a restart never redoes finished
chunks; a chunk cut short by a crash is redone whole, which is safe because every write of the
sync converges (``serving.apply``).

Sustained throttling (the partition shared with another workload, say) that outlasts the retry
budget in the middle of a chunk ends the invocation the same way: at the last checkpoint, with
``done = False``, and the next invocation redoes that chunk. Only an invocation that could not
finish a single chunk raises ``Throttled``; the state machine's Retry on the Sync state then
waits minutes, not seconds, before invoking it again.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.errors import NotFound, Throttled
from ppstack.layout import check_batch_id, sync_checkpoint_key
from ppstack.serving.apply import (
    DEFAULT_CHUNK,
    DEFAULT_WORKERS,
    Applier,
    SyncStats,
    put_batch_item,
)
from ppstack.serving.pace import KeyPacer
from ppstack.serving.plan import plan_entity
from ppstack.serving.read import as_spec, batch_rows
from ppstack.serving.retry import PATIENT_BACKOFF, Backoff, chunked
from ppstack.serving.sync import batch_groups
from ppstack.serving.table import ensure_table

DEFAULT_RESERVE = 120.0  # seconds kept free at the end of an invocation


@dataclass
class Checkpoint:
    """How far the sync of one batch got; stored after every chunk."""

    entity: str
    batch_id: str
    table: str  # the DynamoDB table it describes: progress into another table does not count
    after: str | None = None  # last entity id whose chunk completed (keys sort as strings)
    entities: int = 0  # entities applied so far
    total: int = 0  # entities in the batch
    chunks: int = 0
    invocations: int = 0
    throttled: int = 0  # invocations that ended early because DynamoDB kept throttling
    done: bool = False
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_checkpoint(store: Any, entity: str, batch_id: str, table: str) -> Checkpoint:
    """The batch's checkpoint for ``table``; a fresh one when none (or another table's) exists."""
    try:
        doc = json.loads(store.get(sync_checkpoint_key(entity, batch_id)))
    except NotFound:
        return Checkpoint(entity, batch_id, table)
    return Checkpoint(**doc) if doc.get("table") == table else Checkpoint(entity, batch_id, table)


def _save(store: Any, cp: Checkpoint) -> None:
    body = (json.dumps(cp.to_dict(), sort_keys=True) + "\n").encode("utf-8")
    store.put(sync_checkpoint_key(cp.entity, cp.batch_id), body)


def _add(totals: dict[str, int], stats: SyncStats) -> dict[str, int]:
    return {k: totals.get(k, 0) + v for k, v in stats.to_dict().items()}


def sync_slice(rt: Any, spec: EntitySpec | str, batch_id: str, *,
               time_left: Callable[[], float], reserve: float = DEFAULT_RESERVE,
               chunk_size: int = DEFAULT_CHUNK, workers: int = DEFAULT_WORKERS,
               backoff: Backoff = PATIENT_BACKOFF,
               pacer: KeyPacer | None = None) -> Checkpoint:
    """Apply the next chunks of batch ``batch_id`` while they fit in ``time_left()`` seconds.

    Batched writes are paced per partition key (``pace.KeyPacer``), so the hot search key is
    written just under its limit instead of being throttled. Returns the checkpoint; ``done``
    is True once every entity of the batch is applied (the caller then records the batch
    ``synced`` with ``stats``). Safe to call again after done.
    """
    spec = as_spec(spec)
    check_batch_id(batch_id)
    cp = load_checkpoint(rt.store, spec.name, batch_id, rt.settings.dynamodb_table)
    if cp.done:
        return cp
    cp.invocations += 1
    groups = batch_groups(spec, batch_id, batch_rows(rt, spec, batch_id))
    keys = sorted(groups)
    cp.total = len(keys)
    start = bisect.bisect_right(keys, cp.after) if cp.after is not None else 0
    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    applier = Applier(rt.dynamodb, rt.settings.dynamodb_table, workers, backoff=backoff,
                      pacer=pacer or KeyPacer())
    longest = 0.0
    chunks_before = cp.chunks
    for chunk in chunked(keys[start:], chunk_size):
        before = time_left()
        if before < reserve + 2 * longest:
            break
        try:
            stats = applier.apply((plan_entity(spec, groups[k]) for k in chunk), len(chunk),
                                  finish=False)
        except Throttled:
            cp.throttled += 1
            _save(rt.store, cp)
            if cp.chunks == chunks_before:
                raise  # no progress at all: the state machine's Retry waits longer
            return cp  # the next invocation redoes this chunk from the checkpoint
        longest = max(longest, before - time_left())
        cp.after, cp.entities, cp.chunks = chunk[-1], cp.entities + len(chunk), cp.chunks + 1
        cp.stats = _add(cp.stats, stats)
        cp.done = cp.entities >= cp.total
        _save(rt.store, cp)
    if not keys or cp.entities >= cp.total:
        if keys and not cp.stats.get("batch_puts"):  # the batch item, once every key is in
            effective = plan_entity(spec, groups[keys[0]]).change["effective_date"]["S"]
            cp.stats["batch_puts"] = put_batch_item(
                rt.dynamodb, rt.settings.dynamodb_table, spec.name, batch_id, effective, cp.stats,
                backoff)
            cp.stats["writes"] = cp.stats.get("writes", 0) + cp.stats["batch_puts"]
        cp.done = True
        cp.stats = cp.stats or SyncStats().to_dict()
        _save(rt.store, cp)
    return cp


def completed_stats(rt: Any, spec: EntitySpec | str, batch_id: str) -> dict[str, int] | None:
    """The counts of a sliced sync that finished batch ``batch_id`` into this table, or None
    (the step's finish then runs the plain sync)."""
    spec = as_spec(spec)
    cp = load_checkpoint(rt.store, spec.name, batch_id, rt.settings.dynamodb_table)
    return cp.stats if cp.done else None
