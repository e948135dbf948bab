"""The change feed and batch items: what each batch changed, as a pure function of conformed rows.

Two item kinds join the version and token items (standard library only; the API reads them):

- a change item per entity a batch changed, ``PK = CHANGES#<ENTITY>#<batch_id>``,
  ``SK = <entity_id>``: ``kind`` (inserted / updated / deleted / reactivated), the batch's
  ``effective_date``, ``old_fingerprint`` (absent for an insert) and ``new_fingerprint``
  (absent for a delete);
- a batch item per batch, ``PK = BATCHES#<ENTITY>``, ``SK = <batch_id>``: ``effective_date``,
  the count of each kind, ``changes`` (their sum) and ``synced_at`` (UTC, when written).

Batch ids sort by time (``YYYYMMDDTHHMMSS.ffffffZ``), so a descending Query of ``BATCHES#<E>``
lists the latest batch first.

How the history of one key implies its changes (versions ordered by ``active_from``):

- the first version was *inserted* on its ``active_from``;
- a version starting the day its predecessor ended *updated* it;
- a version starting after a gap *reactivated* the key (the gap is a logical delete);
- a version that ended with no successor starting that day was *deleted* on its ``active_to``.

Which batch did it: a closed row carries the batch that closed it, which is also the batch that
opened its successor on the same day; a current row carries the batch that opened it. Only the
opening batch of a version that was later closed after a gap (an insert or reactivation, then a
delete) is on none of its rows. It is the batch of that effective date: a row column carrying the
opening batch is used where the table has one, else another row naming the batch of that date,
else ``batch_of_date`` (the batch ledger's dates, which ``rebuild`` and ``reconcile`` pass).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.serving.keys import batches_pk, changes_pk

Item = dict[str, dict[str, Any]]
ItemKey = tuple[str, str]

INSERTED = "inserted"
UPDATED = "updated"
DELETED = "deleted"
REACTIVATED = "reactivated"
KINDS: tuple[str, ...] = (INSERTED, UPDATED, DELETED, REACTIVATED)
OPEN_END = "9999-12-31"
# Conformed column holding the batch that opened a version, when the table has it.
OPENED_BATCH_COLUMN = "opened_batch_id"
# Batch item attributes the projection cannot know (when the item was written): reconcile
# ignores them.
UNPROJECTED_BATCH_ATTRIBUTES = ("synced_at",)


def change_item(entity: str, entity_id: str, batch_id: str, kind: str, effective_date: str,
                old_fingerprint: str | None, new_fingerprint: str | None) -> Item:
    item: Item = {
        "PK": {"S": changes_pk(entity, batch_id)},
        "SK": {"S": entity_id},
        "entity_type": {"S": entity},
        "entity_id": {"S": entity_id},
        "batch_id": {"S": batch_id},
        "kind": {"S": kind},
        "effective_date": {"S": effective_date},
    }
    if old_fingerprint:
        item["old_fingerprint"] = {"S": old_fingerprint}
    if new_fingerprint:
        item["new_fingerprint"] = {"S": new_fingerprint}
    return item


def batch_item(entity: str, batch_id: str, effective_date: str, counts: Mapping[str, int],
               synced_at: str | None = None) -> Item:
    """The batch item; ``synced_at`` None leaves it out (the projection's form)."""
    item: Item = {
        "PK": {"S": batches_pk(entity)},
        "SK": {"S": batch_id},
        "entity_type": {"S": entity},
        "batch_id": {"S": batch_id},
        "effective_date": {"S": effective_date},
        "changes": {"N": str(sum(counts.get(k, 0) for k in KINDS))},
    }
    for kind in KINDS:
        item[kind] = {"N": str(counts.get(kind, 0))}
    if synced_at is not None:
        item["synced_at"] = {"S": synced_at}
    return item


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_synced_at(item: Item, synced_at: str | None = None) -> Item:
    """A batch item stamped with the time it is written."""
    return {**item, "synced_at": {"S": synced_at or now_utc()}}


def is_batch_item(spec: EntitySpec, item: Item) -> bool:
    return bool(item["PK"]["S"] == batches_pk(spec.name))


def comparable(item: Item | None) -> Item | None:
    """An item as reconcile and repair compare it: a batch item without ``synced_at``."""
    if item is None or not item["PK"]["S"].startswith(batches_pk("")):
        return item
    return {k: v for k, v in item.items() if k not in UNPROJECTED_BATCH_ATTRIBUTES}


def stamped(item: Item, synced_at: str) -> Item:
    """An item as written: a batch item gets ``synced_at``, any other is unchanged."""
    return with_synced_at(item, synced_at) if item["PK"]["S"].startswith(batches_pk("")) else item


# ---- the projection -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """What the change projection needs of one conformed row, as strings (dates ISO)."""

    active_from: str
    active_to: str
    is_current: bool
    fingerprint: str
    batch_id: str  # ingestion_batch_id: the closing batch of a closed row, else the opening one
    opened_batch_id: str | None = None  # the opening batch, when the table records it


Event = tuple[str | None, str, str, str, str | None, str | None]
# (batch_id or None when unknown, entity_id, kind, effective_date, old fp, new fp)


def key_events(entity_id: str, versions: list[Version]) -> list[Event]:
    """The changes one key's versions (ordered by active_from) imply; see the module doc."""
    events: list[Event] = []
    prev: Version | None = None
    for i, v in enumerate(versions):
        opened = v.opened_batch_id
        if prev is None:
            kind, old = INSERTED, None
        elif prev.active_to == v.active_from:
            kind, old = UPDATED, prev.fingerprint
            opened = opened or prev.batch_id
        else:
            kind, old = REACTIVATED, prev.fingerprint
        if v.is_current:
            opened = v.batch_id
        events.append((opened, entity_id, kind, v.active_from, old, v.fingerprint))
        following = versions[i + 1] if i + 1 < len(versions) else None
        if v.active_to != OPEN_END and (following is None
                                        or following.active_from != v.active_to):
            events.append((v.batch_id, entity_id, DELETED, v.active_to, v.fingerprint, None))
        prev = v
    return events


def named_dates(events: Iterable[Event]) -> dict[str, str]:
    """Effective date -> batch, from the events whose rows name their batch (the last wins)."""
    return {date: batch for batch, _, _, date, _, _ in events if batch is not None}


@dataclass
class BatchTally:
    """What every batch changed, counted over the change items made so far: the batch items.
    A projection made part by part (key ranges) adds each part's changes here."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)

    def batch_items(self, entity: str) -> list[Item]:
        return [batch_item(entity, b, self.dates[b], self.counts[b]) for b in sorted(self.counts)]


def change_items(spec: EntitySpec, events: Iterable[Event], batch_of_date: Mapping[str, str],
                 tally: BatchTally) -> list[Item]:
    """The change item of every event whose batch is known (named, or by its date), counted
    into ``tally``."""
    items: list[Item] = []
    for batch, eid, kind, date, old, new in events:
        batch = batch or batch_of_date.get(date)
        if batch is None:
            continue  # no row names the batch of that date (see the module doc)
        items.append(change_item(spec.name, eid, batch, kind, date, old, new))
        tally.counts.setdefault(batch, Counter())[kind] += 1
        tally.dates[batch] = date
    return items


def project_changes(spec: EntitySpec, keys: Iterable[tuple[str, list[Version]]],
                    batch_of_date: Mapping[str, str] | None = None) -> list[Item]:
    """Change and batch items (without ``synced_at``) implied by every key's ordered versions;
    ``batch_of_date`` (effective date -> batch id) names batches no row names."""
    events = [e for eid, versions in keys for e in key_events(eid, versions)]
    tally = BatchTally()
    items = change_items(spec, events, {**(batch_of_date or {}), **named_dates(events)}, tally)
    return items + tally.batch_items(spec.name)
