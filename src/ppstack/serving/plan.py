"""The pure core of the sync: one key's rows of batch B -> the writes DynamoDB needs, in order.

No I/O here. ``apply`` executes plans; tests build plans from hand-made rows.

Classification (docs/sync.md#what-a-batchs-sync-reads), from the rows whose
``ingestion_batch_id`` = B:

- INSERT: only a new current row (a new key, or a reactivated one: its history stays untouched);
- UPDATE: a closed row + a new current row;
- DELETE: only a closed row.

Writes, in the order that makes every prefix of them safe to crash after:

1. history put of the closed version, ``attribute_not_exists(PK) OR fingerprint = :fp``;
2. search item puts: items of the new row that the closed row lacks or holds with other content
   (a rank item carries the entity's tokens, so it changes when any search field does), and the
   change item (``CHANGES#<ENTITY>#<B>`` / id: what B did to the key, ``serving.changes``);
3. V#CURRENT, the commit point,
   ``attribute_not_exists(PK) OR last_ingestion_batch_id < :b
   OR (last_ingestion_batch_id = :b AND fingerprint = :fp)``;
   a Put for INSERT/UPDATE, an UpdateItem for DELETE;
4. search item deletes: sort keys of the closed row's items the new row does not have.

Items equal in both rows are neither written nor deleted, so a clean sync performs exactly
``history + 1 + |changed or new items| + |gone keys| + 1`` writes per key (the last one is the
change item), plus one batch item per batch.

A plan cannot tell a new key from a reactivated one (both are a lone current row): the applier
learns it from the V#CURRENT it reads first, and turns the change item's kind into
``reactivated`` there (``with_reactivation``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.errors import PpstackError
from ppstack.serving.changes import DELETED, INSERTED, REACTIVATED, UPDATED, change_item
from ppstack.serving.keys import CURRENT_SK, search_pk
from ppstack.serving.projection import (
    Item,
    Row,
    entity_id,
    history_item,
    search_items,
    split_versions,
    version_item,
)

INSERT = "INSERT"
UPDATE = "UPDATE"
DELETE = "DELETE"

HISTORY_CONDITION = "attribute_not_exists(PK) OR fingerprint = :fp"
CURRENT_CONDITION = (
    "attribute_not_exists(PK) OR last_ingestion_batch_id < :b "
    "OR (last_ingestion_batch_id = :b AND fingerprint = :fp)"
)


@dataclass(frozen=True)
class EntityPlan:
    """Everything batch B writes for one key, in write order."""

    entity_id: str
    kind: str  # INSERT | UPDATE | DELETE
    batch_id: str
    history: Item | None  # V#<active_from> of the closed version (UPDATE, DELETE)
    token_adds: tuple[Item, ...]
    current: Item  # the V#CURRENT item as it must be after the commit
    token_deletes: tuple[dict[str, dict[str, str]], ...]  # keys only
    change: Item  # the change item (kind inserted / updated / deleted; see with_reactivation)
    absent: tuple[str, ...] = ()  # business fields V#CURRENT must not have (DELETE's REMOVE)

    @property
    def pk(self) -> str:
        return self.current["PK"]["S"]

    @property
    def fingerprint(self) -> str:
        """Fingerprint the V#CURRENT condition compares (of the row V#CURRENT is made from)."""
        return self.current["fingerprint"]["S"]

    @property
    def writes(self) -> int:
        return (self.history is not None) + len(self.token_adds) + 2 + len(self.token_deletes)

    @property
    def change_kind(self) -> str:
        return str(self.change["kind"]["S"])

    def with_reactivation(self, old_fingerprint: str) -> EntityPlan:
        """This INSERT plan for a key that had a version before (its V#CURRENT exists)."""
        change = {**self.change, "kind": {"S": REACTIVATED},
                  "old_fingerprint": {"S": old_fingerprint}}
        return replace(self, change=change)

    # ---- request payloads (pure; the apply layer adds TableName) ----
    def history_request(self) -> dict[str, Any]:
        assert self.history is not None
        return {
            "Item": self.history,
            "ConditionExpression": HISTORY_CONDITION,
            "ExpressionAttributeValues": {":fp": self.history["fingerprint"]},
        }

    def current_request(self) -> dict[str, Any]:
        """PutItem (INSERT/UPDATE) or UpdateItem (DELETE) arguments for V#CURRENT."""
        values = {":b": {"S": self.batch_id}, ":fp": {"S": self.fingerprint}}
        if self.kind != DELETE:
            return {
                "Item": self.current,
                "ConditionExpression": CURRENT_CONDITION,
                "ExpressionAttributeValues": values,
            }
        return {"Key": {"PK": self.current["PK"], "SK": self.current["SK"]},
                **delete_update(self.current, self.absent, values)}


def delete_update(current: Item, absent: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
    """UpdateItem arguments that turn V#CURRENT into the closed version.

    docs/sync.md asks for an update to ``is_current = false``, ``effective_to = active_to``; we SET
    every attribute of the closed row (they equal the old current's, rule 2 changes nothing else)
    and REMOVE business fields it lacks. The write costs the same, and the item ends exactly
    equal to the projection even when V#CURRENT was missing or damaged before.
    """
    names: dict[str, str] = {}
    sets: list[str] = []
    for i, (attr, value) in enumerate(sorted(current.items())):
        if attr in ("PK", "SK"):
            continue
        names[f"#a{i}"] = attr
        values[f":a{i}"] = value
        sets.append(f"#a{i} = :a{i}")
    expression = "SET " + ", ".join(sets)
    if absent:
        for j, attr in enumerate(absent):
            names[f"#r{j}"] = attr
        expression += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(absent)))
    return {
        "UpdateExpression": expression,
        "ConditionExpression": CURRENT_CONDITION,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def plan_entity(spec: EntitySpec, rows: Iterable[Row]) -> EntityPlan:
    """Classify one key's rows of a single batch and derive its writes (see module doc)."""
    rows = list(rows)
    if not rows:
        raise ValueError("plan_entity needs at least one row")
    batches = {str(r["ingestion_batch_id"]) for r in rows}
    if len(batches) != 1:
        raise PpstackError(f"rows of several batches given to one plan: {sorted(batches)}")
    (batch_id,) = batches
    current, closed_rows = split_versions(spec, rows)
    if len(closed_rows) > 1:
        raise PpstackError(
            f"{spec.name} {entity_id(spec, rows[0])}: batch {batch_id} closed "
            f"{len(closed_rows)} versions; one batch closes at most one per key"
        )
    closed = closed_rows[0] if closed_rows else None
    eid = entity_id(spec, rows[0])
    old, new = search_items(spec, closed), search_items(spec, current)
    if current is not None:
        kind = UPDATE if closed is not None else INSERT
        current_item = version_item(spec, current, CURRENT_SK)
        change = change_item(spec.name, eid, batch_id, UPDATED if closed is not None else INSERTED,
                             current_item["effective_from"]["S"],
                             str(closed["fingerprint"]) if closed is not None else None,
                             current_item["fingerprint"]["S"])
    else:
        assert closed is not None
        kind = DELETE
        current_item = version_item(spec, closed, CURRENT_SK)
        change = change_item(spec.name, eid, batch_id, DELETED, current_item["effective_to"]["S"],
                             current_item["fingerprint"]["S"], None)
    return EntityPlan(
        entity_id=eid,
        kind=kind,
        batch_id=batch_id,
        history=history_item(spec, closed) if closed is not None else None,
        token_adds=tuple(new[sk] for sk in sorted(new) if old.get(sk) != new[sk]),
        current=current_item,
        token_deletes=tuple(
            {"PK": {"S": search_pk(spec.name)}, "SK": {"S": sk}}
            for sk in sorted(old.keys() - new.keys())
        ),
        change=change,
        absent=(tuple(f for f in spec.field_names if f not in current_item)
                if kind == DELETE else ()),
    )
