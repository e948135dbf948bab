"""The change feed and the batch list: reads of ``CHANGES#<E>#<batch>`` and ``BATCHES#<E>``.

boto3 + stdlib only. Both lists are one Query each, paged by position: the cursor is the last
sort key shown (URL-safe base64 of JSON, with what it belongs to so it cannot continue another
list), and the next page starts right after it (``ExclusiveStartKey``). Change items are
ordered by entity id, batches latest first (batch ids sort by time).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ppstack.entities import EntitySpec
from ppstack.errors import BadInput, NotFound
from ppstack.serving.changes import KINDS
from ppstack.serving.keys import batches_pk, changes_pk

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A filtered Query reads this many items per request at least (DynamoDB applies Limit before
# the filter): few requests even when the kind asked for is rare.
FILTERED_READ = 500
_BATCH_ID = re.compile(r"^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z$")

CHANGE_FIELDS = ("entity_id", "kind", "effective_date", "old_fingerprint", "new_fingerprint")
BATCH_COUNTS = ("changes",) + KINDS


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {raw[:20]!r}")
    return int(raw)


def parse_batch_id(raw: str | None) -> str:
    if not raw:
        raise BadInput("batch_id is required, e.g. batch_id=20190429T060000.000000Z "
                       "(GET /batches/drug lists them)")
    if not _BATCH_ID.match(raw):
        raise BadInput(f"batch_id must look like 20190429T060000.000000Z; got {raw[:40]!r}")
    return raw


def parse_kind(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}; got {raw[:20]!r}")
    return raw


def encode_cursor(after: str, scope: str) -> str:
    raw = json.dumps({"a": after, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str) -> str | None:
    """The last sort key of the previous page, or BadInput for a damaged or foreign cursor."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, owner = data["a"], data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadInput("cursor is not valid: pass next_cursor from the previous page unchanged"
                       ) from None
    if owner != scope or not isinstance(after, str):
        raise BadInput("cursor belongs to another list: repeat the same parameters to continue")
    return after


def _plain(av: dict[str, Any]) -> Any:
    if "N" in av:
        return int(av["N"])
    return av.get("S")


def page_query(client: Any, table: str, pk: str, limit: int, after: str | None, *,
               kind: str | None = None, descending: bool = False) -> tuple[list[dict], bool]:
    """Up to ``limit`` items of partition ``pk`` after sort key ``after``, and whether more
    follow. Reads one item past the page to know that without an extra request."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ScanIndexForward": not descending,
    }
    if kind is not None:
        kwargs["FilterExpression"] = "#kind = :kind"
        kwargs["ExpressionAttributeNames"] = {"#kind": "kind"}
        kwargs["ExpressionAttributeValues"][":kind"] = {"S": kind}
    if after is not None:
        kwargs["ExclusiveStartKey"] = {"PK": {"S": pk}, "SK": {"S": after}}
    items: list[dict] = []
    while True:
        wanted = limit + 1 - len(items)
        kwargs["Limit"] = max(wanted, FILTERED_READ) if kind is not None else wanted
        resp = client.query(**kwargs)
        items.extend(resp.get("Items", []))
        if len(items) > limit or "LastEvaluatedKey" not in resp:
            return items[:limit], len(items) > limit
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def batch_json(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "batch_id": item["SK"]["S"],
        "effective_date": _plain(item.get("effective_date", {})),
        "synced_at": _plain(item["synced_at"]) if "synced_at" in item else None,
    }
    out.update({k: _plain(item[k]) if k in item else 0 for k in BATCH_COUNTS})
    return out


def change_json(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (_plain(item[k]) if k in item else None) for k in CHANGE_FIELDS}


def get_batch(client: Any, table: str, spec: EntitySpec, batch_id: str) -> dict[str, Any]:
    resp = client.get_item(TableName=table, Key={"PK": {"S": batches_pk(spec.name)},
                                                 "SK": {"S": batch_id}})
    if "Item" not in resp:
        raise NotFound(f"no {spec.lname} batch {batch_id} changed anything; "
                       f"GET /batches/{spec.api_path} lists the batches")
    return batch_json(resp["Item"])


def list_batches(client: Any, table: str, spec: EntitySpec, limit: str | None,
                 cursor: str | None) -> dict[str, Any]:
    """Batches that changed something, latest first; ``limit=1`` tells how fresh the data is."""
    n = parse_limit(limit)
    scope = f"batches:{spec.name}"
    after = decode_cursor(cursor, scope)
    items, more = page_query(client, table, batches_pk(spec.name), n, after, descending=True)
    return {
        "batches": [batch_json(i) for i in items],
        "next_cursor": encode_cursor(items[-1]["SK"]["S"], scope) if more and items else None,
    }


def list_changes(client: Any, table: str, spec: EntitySpec, batch_id: str | None,
                 kind: str | None, limit: str | None, cursor: str | None) -> dict[str, Any]:
    """One page of what batch ``batch_id`` changed (optionally one kind), ordered by entity id.

    Two requests: the batch item (its counts give ``total``; 404 for an unknown batch) and
    one Query page.
    """
    bid, wanted, n = parse_batch_id(batch_id), parse_kind(kind), parse_limit(limit)
    scope = f"changes:{spec.name}:{bid}:{wanted or ''}"
    after = decode_cursor(cursor, scope)
    batch = get_batch(client, table, spec, bid)
    items, more = page_query(client, table, changes_pk(spec.name, bid), n, after, kind=wanted)
    return {
        "batch": batch,
        "kind": wanted,
        "total": batch[wanted or "changes"],
        "changes": [change_json(i) for i in items],
        "next_cursor": encode_cursor(items[-1]["SK"]["S"], scope) if more and items else None,
    }
