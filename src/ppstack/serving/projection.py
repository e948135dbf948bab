"""What DynamoDB must hold for an entity, as a pure function of its conformed rows.

There is one definition of every item: ``version_item`` (V#CURRENT and V#<active_from>) and
``search_items``. The sync plan, ``rebuild`` and ``reconcile`` all build items through these
functions, so an incrementally synced table and a rebuilt one cannot drift apart by definition.

Items are in DynamoDB's low-level attribute-value form (``{"S": ...}``), the form boto3's client
sends and ``Scan`` returns, so reconcile compares them without conversion.

Attribute choices that make the incremental and rebuilt paths agree:

- ``last_ingestion_batch_id`` is the ``ingestion_batch_id`` of the row the item is made from. A
  closed conformed row carries the id of the batch that closed it
  (docs/data-rules.md#conformed-scd2, rule 2), which is exactly the batch whose sync writes the
  history item.
- A logically deleted key's V#CURRENT is made from its newest closed row (``is_current`` false,
  ``effective_to`` = the close date); the DELETE sync writes the same attributes.
- NULL (and empty) business fields are omitted; dates are ``YYYY-MM-DD`` strings.

The change feed and batch items (``serving.changes``) are projected from the same rows: each
key's versions imply what every batch did to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.errors import PpstackError
from ppstack.serving.changes import (
    OPENED_BATCH_COLUMN,
    BatchTally,
    Event,
    Version,
    change_items,
    key_events,
    named_dates,
)
from ppstack.serving.keys import (
    CURRENT_SK,
    encode_doc,
    history_sk,
    item_pk,
    rank_sk,
    search_pk,
    token_sk,
    tokenize,
)

Item = dict[str, dict[str, Any]]
ItemKey = tuple[str, str]
Row = Mapping[str, Any]

# Attributes every version item has besides the business fields.
VERSION_ATTRIBUTES = (
    "PK", "SK", "entity_type", "entity_id", "effective_from", "effective_to", "is_current",
    "fingerprint", "last_ingestion_batch_id", "opened_batch_id",
)


def text(value: Any) -> str | None:
    """A conformed value as the string DynamoDB stores (dates ISO, empty -> None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        midnight = value.time() == datetime.min.time()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    s = str(value)
    return s or None


def entity_id(spec: EntitySpec, row: Row) -> str:
    eid = text(row.get(spec.key))
    if eid is None:
        raise PpstackError(f"conformed {spec.lname} row without a key ({spec.key}): {dict(row)}")
    return eid


def key_of(item: Item) -> ItemKey:
    return item["PK"]["S"], item["SK"]["S"]


def version_item(spec: EntitySpec, row: Row, sk: str) -> Item:
    """The V#CURRENT or V#<active_from> item of one conformed row."""
    eid = entity_id(spec, row)
    item: Item = {
        "PK": {"S": item_pk(spec.name, eid)},
        "SK": {"S": sk},
        "entity_type": {"S": spec.name},
        "entity_id": {"S": eid},
        "effective_from": {"S": text(row["active_from"]) or ""},
        "effective_to": {"S": text(row["active_to"]) or ""},
        "is_current": {"BOOL": bool(row["is_current"])},
        "fingerprint": {"S": str(row["fingerprint"])},
        "last_ingestion_batch_id": {"S": str(row["ingestion_batch_id"])},
    }
    opened = text(row.get("opened_batch_id"))
    if opened is not None:  # the batch whose INSERT opened the version (lineage in the API)
        item["opened_batch_id"] = {"S": opened}
    for name in spec.field_names:
        value = text(row.get(name))
        if value is not None:
            item[name] = {"S": value}
    return item


def history_item(spec: EntitySpec, row: Row) -> Item:
    return version_item(spec, row, history_sk(text(row["active_from"]) or ""))


def search_items(spec: EntitySpec, row: Row | None) -> dict[str, Item]:
    """Every search item a current row implies (none for ``None``), by sort key.

    - token items ``token#<token>#<field>#<ENTITY>#<id>``: one per (token, field), the layout
      field-scoped reads and exact-key checks rely on;
    - rank items ``rank#<token>#<tier><nn>#<ENTITY>#<id>``: one per (token, entity), sorted best
      first for that token, carrying ``d``, the entity's tokens per search field, so the search
      evaluates every query word and ranks the entity from the one item it reads.
    """
    if row is None:
        return {}
    eid = entity_id(spec, row)
    per_field = [tokenize(text(row.get(f.name))) for f in spec.search]
    name = {t for f, toks in zip(spec.search, per_field, strict=True) if f.tier == 0 for t in toks}
    best: dict[str, int] = {}
    items: dict[str, Item] = {}
    for f, toks in zip(spec.search, per_field, strict=True):
        for tok in toks:
            best[tok] = min(best.get(tok, f.tier), f.tier)
            sk = token_sk(tok, f.name, spec.name, eid)
            items[sk] = token_item(spec, eid, sk)
    doc = {"S": encode_doc(per_field)}
    for tok, tier in best.items():
        sk = rank_sk(tok, tier, len(name), spec.name, eid)
        items[sk] = {**token_item(spec, eid, sk), "d": doc}
    return items


def token_item(spec: EntitySpec, eid: str, sk: str) -> Item:
    """A search token item; ``entity_id`` lets a reader skip parsing the sort key."""
    return {"PK": {"S": search_pk(spec.name)}, "SK": {"S": sk}, "entity_id": {"S": eid}}


def split_versions(spec: EntitySpec, rows: Iterable[Row]) -> tuple[Row | None, list[Row]]:
    """(the current row or None, closed rows by active_from) of ONE key; checks rule 1."""
    current: list[Row] = []
    closed: list[Row] = []
    for r in rows:
        (current if r["is_current"] else closed).append(r)
    if len(current) > 1:
        raise PpstackError(
            f"{spec.name} {entity_id(spec, current[0])} has {len(current)} current rows in "
            "conformed; at most one is allowed (rule 1 of docs/data-rules.md#conformed-scd2)"
        )
    closed.sort(key=lambda r: text(r["active_from"]) or "")
    return (current[0] if current else None), closed


def project_key(spec: EntitySpec, rows: Iterable[Row]) -> dict[ItemKey, Item]:
    """Every item one key's full history implies."""
    current, closed = split_versions(spec, rows)
    items = [history_item(spec, r) for r in closed]
    newest = current if current is not None else (closed[-1] if closed else None)
    if newest is None:
        return {}
    items.append(version_item(spec, newest, CURRENT_SK))
    found = search_items(spec, current)
    items.extend(found[sk] for sk in sorted(found))
    return {key_of(i): i for i in items}


def group_by_key(spec: EntitySpec, rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[entity_id(spec, r)].append(r)
    return groups


def change_versions(spec: EntitySpec, rows: Iterable[Row]) -> list[Version]:
    """One key's rows as the change projection needs them, ordered by active_from."""
    current, closed = split_versions(spec, rows)
    ordered = closed + ([current] if current is not None else [])
    return [
        Version(
            active_from=text(r["active_from"]) or "",
            active_to=text(r["active_to"]) or "",
            is_current=bool(r["is_current"]),
            fingerprint=str(r["fingerprint"]),
            batch_id=str(r["ingestion_batch_id"]),
            opened_batch_id=text(r.get(OPENED_BATCH_COLUMN)),
        )
        for r in ordered
    ]


def key_changes(spec: EntitySpec, groups: Mapping[str, list[Row]]) -> list[Event]:
    """The change events of every key in ``groups`` (key -> its rows), in the groups' order."""
    return [e for eid, rows in groups.items() for e in key_events(eid, change_versions(spec, rows))]


def project_part(spec: EntitySpec, groups: Mapping[str, list[Row]], events: list[Event],
                 batch_of_date: Mapping[str, str], tally: BatchTally) -> dict[ItemKey, Item]:
    """The items of some keys (``groups``: ALL rows of each, ``events``: their changes): version,
    search and change items; each change is counted into ``tally``, which makes the batch items
    once every key is in. ``batch_of_date`` already holds the dates the rows name."""
    out: dict[ItemKey, Item] = {}
    for key_rows in groups.values():
        out.update(project_key(spec, key_rows))
    out.update((key_of(i), i) for i in change_items(spec, events, batch_of_date, tally))
    return out


def project(spec: EntitySpec, rows: Iterable[Row],
            batch_of_date: Mapping[str, str] | None = None) -> dict[ItemKey, Item]:
    """The whole DynamoDB content for ``spec`` implied by ALL its conformed rows.

    One V#CURRENT per key (newest version), one V#<active_from> per closed version, tokens for
    current rows only; one change item per key and batch that changed it, one batch item per
    batch (without ``synced_at``). Used by rebuild, reconcile and the tests' expectations.
    ``batch_of_date`` (effective date -> batch id, from the batch ledger) names the batch of a
    change no conformed row names (``serving.changes``). ``serving.repair`` makes the same
    items key range by key range (``project_part``).
    """
    groups = group_by_key(spec, rows)
    events = key_changes(spec, groups)
    tally = BatchTally()
    out = project_part(spec, groups, events, {**(batch_of_date or {}), **named_dates(events)},
                       tally)
    out.update((key_of(i), i) for i in tally.batch_items(spec.name))
    return out
