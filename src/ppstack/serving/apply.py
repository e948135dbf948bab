"""Execute sync plans against DynamoDB with boto3, many entities at a time, per-entity order kept.

Entities are processed in chunks. Inside a chunk every phase finishes before the next starts:

0. read the chunk's V#CURRENT (BatchGetItem, consistent) and drop *stale* plans;
1. history puts (conditional PutItem, one per entity, in a thread pool);
2. search item puts, token and rank items, and change items (BatchWriteItem of 25, many
   entities per request);
3. V#CURRENT writes (conditional PutItem / UpdateItem, the commit point);
4. search item deletes (BatchWriteItem) of the entities whose V#CURRENT write succeeded.

After the last chunk, one batch item (``BATCHES#<ENTITY>`` / B) with the count of each kind of
change: it is written last, so a reader who sees it finds every change item of the batch.

So for every single entity the order of docs/sync.md#the-order-per-key holds, while the
requests themselves are batched and run concurrently (dynalite answers one request at a time
per connection, slowly; AWS rewards concurrency too). Against a local server two chunks are
written at once (``CHUNKS_IN_FLIGHT``): their keys are disjoint, and the commit point's single
requests of one overlap the other's batches.

Why phase 0. Token puts precede the commit point, so the V#CURRENT condition alone cannot stop a
*stale replay* (batch B re-run after a newer batch B' wrote the key) from adding tokens of a
version that is no longer current: nothing would ever delete them. Reading V#CURRENT first and
skipping entities whose ``last_ingestion_batch_id`` is newer than B (or equals B with another
fingerprint, which the condition would refuse too) closes that hole. It relies on the
"one batch per entity type at a time" lock: no newer batch can commit between the read and our
writes. The conditional V#CURRENT write stays as the last line of defence; when it fails, the
entity's token deletes are NOT applied (they could remove tokens the newer version owns).

Why it converges after a crash at any point. Every write is a function of the batch's rows only:
history and token puts are idempotent, V#CURRENT's condition admits a re-write by the same batch
with the same fingerprint, and token deletes of absent items are no-ops. Re-running the batch
therefore redoes what is missing and rewrites the rest with identical content.

Reactivations. Phase 0 also tells a reactivated key from a new one: an INSERT plan whose key
already has a V#CURRENT of an older batch is a reactivation (the change item's kind and old
fingerprint come from that item). When V#CURRENT already carries B (a re-run after the commit),
the change item written before that commit is kept as it is (it knows the kind; a re-run no
longer can). The batch item is written only when absent: it is written after every change
item of the batch, so when it exists a complete run wrote it, and a re-run (which may see only
part of the batch's keys, or only stale ones) must not recount it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

from botocore.exceptions import ClientError

from ppstack.progress import NULL_METER, Meter
from ppstack.serving import retry
from ppstack.serving.changes import (
    DELETED,
    INSERTED,
    REACTIVATED,
    UPDATED,
    batch_item,
    with_synced_at,
)
from ppstack.serving.counts import Counts, Total
from ppstack.serving.keys import CURRENT_SK
from ppstack.serving.pace import KeyPacer
from ppstack.serving.plan import DELETE, INSERT, UPDATE, EntityPlan

DEFAULT_WORKERS = 8
DEFAULT_CHUNK = 1000
# Chunks written at once against a local server (no pacer); see Applier.apply.
CHUNKS_IN_FLIGHT = 2


@dataclass
class SyncStats(Counts):
    """Counts of one sync, stored in the batch ledger (``to_dict``)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    history_puts: int = 0
    current_puts: int = 0
    current_updates: int = 0
    token_puts: int = 0  # search item puts (token and rank items; the name predates rank)
    token_deletes: int = 0  # search item deletes
    change_puts: int = 0
    batch_puts: int = 0
    conditional_skips: int = 0
    reactivated: int = 0  # of ``inserted``: keys that had a version before
    stale: int = 0  # of ``conditional_skips``: keys a newer batch had already written

    writes = Total("history_puts", "current_puts", "current_updates", "token_puts",
                   "token_deletes", "change_puts", "batch_puts")


def put_batch_item(client: Any, table: str, entity: str, batch_id: str, effective_date: str,
                   stats: Mapping[str, int],
                   backoff: retry.Backoff = retry.DEFAULT_BACKOFF) -> int:
    """Write the batch item from a whole batch's sync counts, only when absent; returns the
    writes made (0 or 1).

    Nothing when a key was stale (a re-run after a newer batch cannot recount the batch; its
    first run wrote the item) or when the batch changed nothing.
    """
    if stats.get("stale", 0):
        return 0
    kinds = {INSERTED: stats.get("inserted", 0) - stats.get("reactivated", 0),
             UPDATED: stats.get("updated", 0), DELETED: stats.get("deleted", 0),
             REACTIVATED: stats.get("reactivated", 0)}
    if not any(kinds.values()):
        return 0
    item = with_synced_at(batch_item(entity, batch_id, effective_date, kinds))
    try:
        retry.call(client.put_item, TableName=table, Item=item, backoff=backoff,
                   ConditionExpression="attribute_not_exists(PK)")
    except ClientError as e:
        if _conditional_failed(e):
            return 0
        raise
    return 1


def _conditional_failed(e: ClientError) -> bool:
    return e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _partition_key(request: dict) -> str:
    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
    return str(body["PK"]["S"])


def _done(stats: SyncStats, pending: tuple[int, Future[SyncStats]], meter: Meter) -> SyncStats:
    """``stats`` plus the counts of a written chunk (waiting for it); one meter step per plan."""
    size, future = pending
    chunk = future.result()
    meter.step(size)
    return SyncStats(**{f.name: getattr(stats, f.name) + getattr(chunk, f.name)
                        for f in fields(SyncStats)})


def is_stale(plan: EntityPlan, current: dict[str, Any] | None) -> bool:
    """True when V#CURRENT already holds a newer batch's state (the commit would be refused)."""
    if current is None or "last_ingestion_batch_id" not in current:
        return False
    last = current["last_ingestion_batch_id"]["S"]
    if last > plan.batch_id:
        return True
    return last == plan.batch_id and current.get("fingerprint", {}).get("S") != plan.fingerprint


class Applier:
    """Runs plans on one client and table with a shared thread pool."""

    def __init__(self, client: Any, table: str, workers: int = DEFAULT_WORKERS,
                 backoff: retry.Backoff = retry.DEFAULT_BACKOFF,
                 pacer: KeyPacer | None = None) -> None:
        self.client = client
        self.table = table
        self.workers = max(1, workers)
        self.backoff = backoff  # how long throttling is waited out (patient on AWS's hot key)
        self.pacer = pacer  # AWS: one paced writer per hot key, under the partition's limit

    # ---- single requests ----
    def _put_history(self, plan: EntityPlan) -> bool:
        try:
            retry.call(self.client.put_item, TableName=self.table, backoff=self.backoff,
                       **plan.history_request())
        except ClientError as e:
            if _conditional_failed(e):
                return False
            raise
        return True

    def _write_current(self, plan: EntityPlan) -> bool:
        request = plan.current_request()
        fn = self.client.update_item if plan.kind == DELETE else self.client.put_item
        try:
            retry.call(fn, TableName=self.table, backoff=self.backoff, **request)
        except ClientError as e:
            if _conditional_failed(e):
                return False
            raise
        return True

    def _batch(self, requests: Sequence[dict]) -> int:
        # paced: token items are far below 1 KB, one write unit each
        return retry.batch_write(self.client, self.table, requests, backoff=self.backoff,
                                 pacer=self.pacer, key_of=_partition_key)

    def _write_key(self, requests: Sequence[dict]) -> int:
        """One partition key's requests, batch after batch: its single writer."""
        return sum(self._batch(c) for c in retry.chunked(requests, retry.BATCH_WRITE_MAX))

    def _read_changes(self, plans: Sequence[EntityPlan]) -> dict[str, dict]:
        """The change items already stored for ``plans`` (entity id -> item)."""
        keys = [{"PK": p.change["PK"], "SK": p.change["SK"]} for p in plans]
        found = retry.batch_get(self.client, self.table, keys, consistent=True,
                               backoff=self.backoff)
        return {i["SK"]["S"]: i for i in found}

    def _read_current(self, plans: Sequence[EntityPlan]) -> dict[str, dict]:
        keys = [{"PK": {"S": p.pk}, "SK": {"S": CURRENT_SK}} for p in plans]
        found = retry.batch_get(
            self.client, self.table, keys,
            projection="PK, #b, #f",
            names={"#b": "last_ingestion_batch_id", "#f": "fingerprint"},
            consistent=True,
            backoff=self.backoff,
        )
        return {i["PK"]["S"]: i for i in found}

    # ---- phases ----
    def write_batches(self, pool: ThreadPoolExecutor, requests: Sequence[dict]) -> int:
        """BatchWriteItem of ``requests`` in 25s, concurrently.

        With a pacer (AWS), a partition key with a full batch or more of requests (the search
        key, ~10 tokens per entity) gets ONE writer that sends its batches one after another at
        the key's paced rate: threads racing for one partition's 1,000 writes per second only
        throttle each other. The other requests share batches across the pool.
        """
        if self.pacer is None:
            return sum(pool.map(self._batch, retry.chunked(requests, retry.BATCH_WRITE_MAX)))
        by_key: dict[str, list[dict]] = {}
        for r in requests:
            by_key.setdefault(_partition_key(r), []).append(r)
        hot = [rs for rs in by_key.values() if len(rs) >= retry.BATCH_WRITE_MAX]
        rest = [r for rs in by_key.values() if len(rs) < retry.BATCH_WRITE_MAX for r in rs]
        writers = [pool.submit(self._write_key, rs) for rs in hot]
        shared = sum(pool.map(self._batch, retry.chunked(rest, retry.BATCH_WRITE_MAX)))
        return shared + sum(w.result() for w in writers)

    def apply(
        self,
        plans: Iterable[EntityPlan],
        chunk_size: int = DEFAULT_CHUNK,
        meter: Meter = NULL_METER,
        finish: bool = True,
    ) -> SyncStats:
        """Apply ``plans`` chunk by chunk; a generator keeps only the chunks in flight in memory.

        ``finish``: the plans are the whole batch, so write its batch item afterwards (a caller
        applying a batch in several calls passes False and calls ``put_batch_item`` at the end).

        Chunks hold disjoint keys, so the order per key holds however the phases of two chunks
        interleave. Without a pacer (a local server) ``CHUNKS_IN_FLIGHT`` chunks are written at
        once: while one waits on its commit point's single requests, the other's batches keep
        the server busy. With a pacer (AWS) one chunk at a time: the hot key's paced rate is the
        limit there, and it keeps one writer.
        """
        stats = SyncStats()
        batch: tuple[str, str, str] | None = None  # (entity, batch id, effective date)
        in_flight = 1 if self.pacer is not None else CHUNKS_IN_FLIGHT
        pending: deque[tuple[int, Future[SyncStats]]] = deque()
        with ThreadPoolExecutor(self.workers) as pool, ThreadPoolExecutor(in_flight) as writers:
            for chunk in retry.chunked(plans, chunk_size):
                last = chunk[-1]
                batch = (last.change["entity_type"]["S"], last.batch_id,
                         last.change["effective_date"]["S"])
                if len(pending) == in_flight:
                    stats = _done(stats, pending.popleft(), meter)
                pending.append((len(chunk), writers.submit(self._apply_chunk, pool, chunk)))
            while pending:
                stats = _done(stats, pending.popleft(), meter)
        if finish and batch is not None:
            entity, batch_id, effective_date = batch
            stats.batch_puts += put_batch_item(self.client, self.table, entity, batch_id,
                                               effective_date, stats.to_dict(), self.backoff)
        return stats

    def _apply_chunk(self, pool: ThreadPoolExecutor, chunk: Sequence[EntityPlan]) -> SyncStats:
        """Write one chunk, phase after phase; returns its counts."""
        stats = SyncStats(inserted=sum(1 for p in chunk if p.kind == INSERT),
                          updated=sum(1 for p in chunk if p.kind == UPDATE),
                          deleted=sum(1 for p in chunk if p.kind == DELETE))
        reads = list(pool.map(self._read_current, list(retry.chunked(chunk, retry.BATCH_GET_MAX))))
        state = {pk: item for part in reads for pk, item in part.items()}
        live = [p for p in chunk if not is_stale(p, state.get(p.pk))]
        stats.stale = len(chunk) - len(live)
        stats.conditional_skips += stats.stale
        live, change_writes, kinds = self._settle_changes(pool, live, state)
        stats.reactivated = kinds.count(REACTIVATED)

        # 1. history puts
        with_history = [p for p in live if p.history is not None]
        ok = list(pool.map(self._put_history, with_history))
        stats.history_puts += sum(ok)
        stats.conditional_skips += len(ok) - sum(ok)

        # 2. token puts and change items
        adds = [{"PutRequest": {"Item": t}} for p in live for t in p.token_adds]
        stats.token_puts += self.write_batches(pool, adds)
        changes = [{"PutRequest": {"Item": p.change}} for p in change_writes]
        stats.change_puts += self.write_batches(pool, changes)

        # 3. V#CURRENT, the commit point
        committed_flags = list(pool.map(self._write_current, live))
        committed = [p for p, c in zip(live, committed_flags, strict=True) if c]
        stats.conditional_skips += len(live) - len(committed)
        stats.current_updates += sum(1 for p in committed if p.kind == DELETE)
        stats.current_puts += sum(1 for p in committed if p.kind != DELETE)

        # 4. token deletes, only where this batch's V#CURRENT stands
        deletes = [{"DeleteRequest": {"Key": k}} for p in committed for k in p.token_deletes]
        stats.token_deletes += self.write_batches(pool, deletes)
        return stats

    def _settle_changes(
        self, pool: ThreadPoolExecutor, live: list[EntityPlan], state: dict[str, dict]
    ) -> tuple[list[EntityPlan], list[EntityPlan], list[str]]:
        """Give INSERT plans of known keys their reactivation; find the change items to write.

        Returns (the plans, those whose change item must be written, every plan's change kind).
        """
        plans: list[EntityPlan] = []
        rerun: list[EntityPlan] = []
        for p in live:
            seen = state.get(p.pk)
            if p.kind == INSERT and seen is not None and "last_ingestion_batch_id" in seen:
                if seen["last_ingestion_batch_id"]["S"] < p.batch_id:
                    p = p.with_reactivation(seen["fingerprint"]["S"])
                else:
                    rerun.append(p)
            plans.append(p)
        stored: dict[str, dict] = {}
        for part in pool.map(self._read_changes, list(retry.chunked(rerun, retry.BATCH_GET_MAX))):
            stored.update(part)
        keep = {p.entity_id for p in rerun if p.entity_id in stored}
        kinds = [stored[p.entity_id]["kind"]["S"] if p.entity_id in keep else p.change_kind
                 for p in plans]
        return plans, [p for p in plans if p.entity_id not in keep], kinds
