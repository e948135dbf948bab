"""The batch ledger: one JSON record per batch at ``batches/<ENTITY>/<batch_id>.json``.

Why a ledger: a batch is several statements on several services (staging CTAS, a MERGE and an
INSERT on Iceberg, DynamoDB writes). None of them can be rolled back together, so instead every
step is safe to repeat and the ledger records how far a batch got. ``run`` reads it to resume a
failed batch from its last completed step, to refuse out-of-order batches, and ``status`` prints it.

Writes are conditional (S3 ``If-None-Match: *`` on create, ``If-Match: <etag>`` on update), so two
writers can never silently overwrite each other's record; the per-entity lock makes that the
exceptional case rather than the rule.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ppstack.errors import Refused
from ppstack.layout import check_batch_id, ledger_key, ledger_prefix
from ppstack.storage.base import ObjectStore, PreconditionFailed

# States in the order a batch reaches them (docs/operations.md#the-daily-run); FAILED records the
# step that failed in ``error`` and keeps the last reached state in ``completed``.
STATES: tuple[str, ...] = ("archived", "staged", "closed", "inserted", "synced")
FAILED = "failed"

# Record kinds: one record per batch (``batch``, also each delivery a replay applies) and one per
# ``ppstack replay`` (``replay``), whose states are the phases of a replay (pipeline.replay).
BATCH = "batch"
REPLAY = "replay"
REPLAY_STATES: tuple[str, ...] = ("planned", "rebuilt", "checked", "promoted", "synced")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BatchRecord:
    """What is known about one batch. Serialised as-is; ``etag`` is the version we read."""

    entity: str
    source: str
    ingest_date: str
    batch_id: str
    state: str = "archived"
    completed: str = "archived"  # last state reached, also while ``state`` is FAILED
    final_state: str = "synced"  # the state of the last step this batch runs
    raw: list[dict[str, Any]] = field(default_factory=list)  # [{"key", "sha256"}]
    counts: dict[str, int] = field(default_factory=dict)
    dynamodb: dict[str, Any] = field(default_factory=dict)  # SyncStats.to_dict()
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (last attempt)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # each step's own result
    started: str = field(default_factory=utc_now)
    finished: str | None = None
    error: dict[str, str] | None = None  # {"step", "type", "message", "at"}
    attempts: int = 1
    notes: list[str] = field(default_factory=list)
    kind: str = BATCH
    # A replay's plan and progress; on a batch a replay applied, {"id": <the replay's id>}.
    replay: dict[str, Any] = field(default_factory=dict)
    etag: str | None = field(default=None, compare=False)

    @property
    def complete(self) -> bool:
        return self.state == self.final_state

    def reached(self, state: str) -> bool:
        """Whether the batch (or replay) got at least as far as ``state``."""
        order = REPLAY_STATES if self.kind == REPLAY else STATES
        return order.index(self.completed) >= order.index(state)

    @property
    def replay_id(self) -> str | None:
        """The replay this record belongs to (its own id for a replay record)."""
        return self.batch_id if self.kind == REPLAY else self.replay.get("id")

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("etag")
        return json.dumps(data, indent=2, sort_keys=True, default=str).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, etag: str | None = None) -> BatchRecord:
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        rec = cls(**{k: v for k, v in data.items() if k in known})
        rec.etag = etag
        return rec


class Ledger:
    """Batch records of all entity types in one object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def create(self, record: BatchRecord) -> BatchRecord:
        check_batch_id(record.batch_id)
        try:
            record.etag = self.store.put(ledger_key(record.entity, record.batch_id),
                                         record.to_json(), if_none_match=True)
        except PreconditionFailed:
            raise Refused(
                f"batch {record.batch_id} of {record.entity} already has a ledger record; "
                "batch ids are unique per run"
            ) from None
        return record

    def save(self, record: BatchRecord) -> BatchRecord:
        """Replace the record, only if nobody else changed it since we read or wrote it."""
        try:
            record.etag = self.store.put(ledger_key(record.entity, record.batch_id),
                                         record.to_json(), if_match=record.etag)
        except PreconditionFailed:
            raise Refused(
                f"ledger record of batch {record.batch_id} ({record.entity}) was changed by "
                "another process; is a second run active without the lock?"
            ) from None
        return record

    def load(self, entity: str, batch_id: str) -> BatchRecord:
        key = ledger_key(entity, batch_id)
        raw = self.store.get(key)
        info = self.store.head(key)
        return BatchRecord.from_json(raw, info.etag if info else None)

    def list(self, entity: str) -> list[BatchRecord]:
        """All records of an entity type, oldest first (batch ids sort by start time)."""
        out = []
        for key in self.store.list(ledger_prefix(entity)):
            if key.endswith(".json"):
                batch_id = key.rsplit("/", 1)[1][: -len(".json")]
                out.append(self.load(entity, batch_id))
        return sorted(out, key=lambda r: r.batch_id)

    def latest(self, entity: str) -> BatchRecord | None:
        records = self.list(entity)
        return records[-1] if records else None
