"""Execute sync plans against DynamoDB with boto3, many entities at a time, per-entity order kept.

Entities are processed in chunks. Inside a chunk every phase finishes before the next starts:

0. read the chunk's V#CURRENT (BatchGetItem, consistent) and drop *stale* plans;
1. history puts (conditional PutItem, one per entity, in a thread pool);
2. search item puts, token and rank items (BatchWriteItem of 25, many entities per request);
3. V#CURRENT writes (conditional PutItem / UpdateItem, the commit point);
4. search item deletes (BatchWriteItem) of the entities whose V#CURRENT write succeeded.

So for every single entity the order of docs/sync.md#the-order-per-key holds, while the
requests themselves are batched and run concurrently (dynalite answers one request at a time
per connection, slowly; AWS rewards concurrency too).

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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from ppstack.progress import NULL_METER, Meter
from ppstack.serving import retry
from ppstack.serving.keys import CURRENT_SK
from ppstack.serving.pace import KeyPacer
from ppstack.serving.plan import DELETE, INSERT, UPDATE, EntityPlan

DEFAULT_WORKERS = 8
DEFAULT_CHUNK = 1000


@dataclass
class SyncStats:
    """Counts of one sync, stored in the batch ledger (``to_dict``)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    history_puts: int = 0
    current_puts: int = 0
    current_updates: int = 0
    token_puts: int = 0  # search item puts (token and rank items; the name predates rank)
    token_deletes: int = 0  # search item deletes
    conditional_skips: int = 0

    @property
    def writes(self) -> int:
        return (self.history_puts + self.current_puts + self.current_updates + self.token_puts
                + self.token_deletes)

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "writes": self.writes}


def _conditional_failed(e: ClientError) -> bool:
    return e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _partition_key(request: dict) -> str:
    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
    return str(body["PK"]["S"])


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
    ) -> SyncStats:
        """Apply ``plans`` chunk by chunk; a generator keeps only one chunk of plans in memory."""
        stats = SyncStats()
        with ThreadPoolExecutor(self.workers) as pool:
            for chunk in retry.chunked(plans, chunk_size):
                for p in chunk:
                    if p.kind == INSERT:
                        stats.inserted += 1
                    elif p.kind == UPDATE:
                        stats.updated += 1
                    else:
                        stats.deleted += 1
                self._apply_chunk(pool, chunk, stats)
                meter.step(len(chunk))
        return stats

    def _apply_chunk(
        self, pool: ThreadPoolExecutor, chunk: Sequence[EntityPlan], stats: SyncStats
    ) -> None:
        reads = list(pool.map(self._read_current, list(retry.chunked(chunk, retry.BATCH_GET_MAX))))
        state = {pk: item for part in reads for pk, item in part.items()}
        live = [p for p in chunk if not is_stale(p, state.get(p.pk))]
        stats.conditional_skips += len(chunk) - len(live)

        # 1. history puts
        with_history = [p for p in live if p.history is not None]
        ok = list(pool.map(self._put_history, with_history))
        stats.history_puts += sum(ok)
        stats.conditional_skips += len(ok) - sum(ok)

        # 2. token puts
        adds = [{"PutRequest": {"Item": t}} for p in live for t in p.token_adds]
        stats.token_puts += self.write_batches(pool, adds)

        # 3. V#CURRENT, the commit point
        committed_flags = list(pool.map(self._write_current, live))
        committed = [p for p, c in zip(live, committed_flags, strict=True) if c]
        stats.conditional_skips += len(live) - len(committed)
        stats.current_updates += sum(1 for p in committed if p.kind == DELETE)
        stats.current_puts += sum(1 for p in committed if p.kind != DELETE)

        # 4. token deletes, only where this batch's V#CURRENT stands
        deletes = [{"DeleteRequest": {"Key": k}} for p in committed for k in p.token_deletes]
        stats.token_deletes += self.write_batches(pool, deletes)
