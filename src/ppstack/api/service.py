"""DynamoDB reads behind the API: current item, history, batch get. boto3 + stdlib only.

Items leave this module as plain JSON objects with a fixed shape: the item attributes plus every
business field of the entity spec (``null`` when the sync omitted a NULL field), and nothing
else. A stable shape is what the OpenAPI schema promises, and projecting on the spec means a new
attribute in the table never leaks into the API unannounced.
"""

from __future__ import annotations

from typing import Any

from ppstack.entities import EntitySpec
from ppstack.errors import BadInput, NotFound
from ppstack.layout import check_date
from ppstack.serving.keys import CURRENT_SK, HISTORY_PREFIX, KEY_NORMALIZERS, item_pk
from ppstack.serving.projection import VERSION_ATTRIBUTES
from ppstack.serving.retry import Backoff, batch_get

# Attributes every entity item carries besides its business fields: the sync's own list, minus
# the table keys.
ITEM_ATTRIBUTES: tuple[str, ...] = tuple(a for a in VERSION_ATTRIBUTES if a not in ("PK", "SK"))

# A reader waits far less than the sync would: API Gateway gives up after 29 s, and a caller is
# better served by a quick 503 to retry than by a long stall. Worst case about 1.5 s of sleeping.
API_BACKOFF = Backoff(base=0.02, cap=0.5, attempts=6)

KEY_HINTS = {
    "ndc11": "use a package NDC as 4-4-2, 5-3-2 or 5-4-1 with hyphens, or 11 digits "
             "(5-4-2) with or without hyphens, e.g. 0002-3227-30 or 00002322730",
    "labeler5": "use a labeler code of 4 or 5 digits, e.g. 00002",
}


def output_fields(spec: EntitySpec) -> tuple[str, ...]:
    """The keys of every item the API returns for ``spec``, in response order."""
    return ITEM_ATTRIBUTES + tuple(f for f in spec.field_names if f not in ITEM_ATTRIBUTES)


def normalize_key(spec: EntitySpec, raw: str | None) -> str:
    """Any accepted form of the entity key -> its canonical id, or BadInput saying what is
    accepted."""
    value = KEY_NORMALIZERS[spec.key_format](raw or "")
    if value is None:
        shown = (raw or "")[:40]
        hint = KEY_HINTS.get(spec.key_format, "")
        raise BadInput(f"malformed {spec.key} {shown!r}: {hint}".rstrip(": "))
    return value


def _plain(av: dict[str, Any]) -> Any:
    """One DynamoDB AttributeValue -> JSON value (the table holds S, BOOL and, rarely, N/NULL)."""
    if "S" in av:
        return av["S"]
    if "BOOL" in av:
        return av["BOOL"]
    if "N" in av:
        n = av["N"]
        return int(n) if n.lstrip("-").isdigit() else float(n)
    return None


def to_json(spec: EntitySpec, item: dict[str, Any]) -> dict[str, Any]:
    return {name: (_plain(item[name]) if name in item else None) for name in output_fields(spec)}


def get_current(client: Any, table: str, spec: EntitySpec, entity_id: str) -> dict[str, Any]:
    """The ``V#CURRENT`` item (a logically deleted entity has ``is_current`` false), or NotFound."""
    resp = client.get_item(
        TableName=table, Key={"PK": {"S": item_pk(spec.name, entity_id)}, "SK": {"S": CURRENT_SK}}
    )
    item = resp.get("Item")
    if item is None:
        raise NotFound(f"no {spec.lname} with {spec.key} {entity_id}")
    return to_json(spec, item)


def _query_versions(client: Any, table: str, spec: EntitySpec, entity_id: str,
                    sk_range: tuple[str, str] | None) -> dict[str, dict[str, Any]]:
    """effective_from -> version, from one Query of the entity's partition (paged to the end)."""
    by_from: dict[str, dict[str, Any]] = {}
    pk = {"S": item_pk(spec.name, entity_id)}
    kwargs: dict[str, Any] = {"TableName": table}
    if sk_range is None:
        kwargs["KeyConditionExpression"] = "PK = :pk AND begins_with(SK, :v)"
        kwargs["ExpressionAttributeValues"] = {":pk": pk, ":v": {"S": HISTORY_PREFIX}}
    else:
        kwargs["KeyConditionExpression"] = "PK = :pk AND SK BETWEEN :lo AND :hi"
        kwargs["ExpressionAttributeValues"] = {
            ":pk": pk, ":lo": {"S": sk_range[0]}, ":hi": {"S": sk_range[1]},
        }
    while True:
        resp = client.query(**kwargs)
        for item in resp.get("Items", []):
            version = to_json(spec, item)
            key = version["effective_from"] or ""
            if key not in by_from or item["SK"]["S"] == CURRENT_SK:
                by_from[key] = version
        if "LastEvaluatedKey" not in resp:
            return by_from
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def get_history(client: Any, table: str, spec: EntitySpec, entity_id: str) -> list[dict[str, Any]]:
    """Every version once, ordered by ``effective_from``; NotFound when the entity has no item.

    A logically deleted entity's last version is stored twice (``V#CURRENT`` and
    ``V#<active_from>``) and the two share ``effective_from``; the ``V#CURRENT`` copy wins because
    it is the sync's commit point (if a sync stopped between writing the history row and
    ``V#CURRENT``, the current item is still what readers should see).
    """
    by_from = _query_versions(client, table, spec, entity_id, None)
    if not by_from:
        raise NotFound(f"no {spec.lname} with {spec.key} {entity_id}")
    return [by_from[k] for k in sorted(by_from)]


def batch_get_current(client: Any, table: str, spec: EntitySpec,
                      entity_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``V#CURRENT`` of the ids (BatchGetItem of 100 keys at most per request, retrying
    ``UnprocessedKeys`` with capped exponential backoff and jitter: ``serving.retry``).

    Returns id -> item for the ids that exist; a missing id (removed by a sync between the token
    query and this read) is simply absent.
    """
    keys = [{"PK": {"S": item_pk(spec.name, i)}, "SK": {"S": CURRENT_SK}}
            for i in dict.fromkeys(entity_ids)]
    items = batch_get(client, table, keys, backoff=API_BACKOFF) if keys else []
    return {item["entity_id"]["S"]: to_json(spec, item) for item in items}


# ---- business time: as-of reads and history windows --------------------------------------------

# History sort keys are V#<YYYY-MM-DD>; V#CURRENT sorts after all of them ('C' > '9').
_HISTORY_SK_RANGE = (HISTORY_PREFIX + "0000-00-00", HISTORY_PREFIX + "9999-99-99")


def parse_date(name: str, raw: str | None) -> str | None:
    """``YYYY-MM-DD`` (a real calendar day) or None when absent; BadInput naming ``name``."""
    return None if raw is None or raw == "" else check_date(raw, name)


def in_force(version: dict[str, Any], day: str) -> bool:
    """The half-open rule: ``effective_from <= day < effective_to``."""
    return bool(version["effective_from"] <= day < version["effective_to"])


def listed_periods(versions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Versions ordered by effective_from -> the periods the entity was listed, adjacent
    versions merged (an update closes one version the day the next opens)."""
    periods: list[tuple[str, str]] = []
    for v in versions:
        start, end = v["effective_from"], v["effective_to"]
        if periods and periods[-1][1] >= start:
            periods[-1] = (periods[-1][0], max(periods[-1][1], end))
        else:
            periods.append((start, end))
    return periods


def describe_periods(periods: list[tuple[str, str]]) -> str:
    """'from 2019-01-01 until 2019-02-01 and from 2019-03-01 on' (until = first day not listed)."""
    parts = [f"from {a} on" if b == OPEN_END else f"from {a} until {b}" for a, b in periods]
    return " and ".join(parts)


OPEN_END = "9999-12-31"


def get_as_of(client: Any, table: str, spec: EntitySpec, entity_id: str,
              day: str) -> dict[str, Any]:
    """The version in force on ``day``, in at most two requests.

    One GetItem of ``V#CURRENT`` answers every read at or after the current version's start.
    Only when the current version started after ``day``, or no longer covers it (a logical
    delete), one Query reads the history items (``V#<date>``; one drug has a handful, far below
    one page). The Query reads all of them rather than ``Limit 1`` so that a day on which the
    entity was not listed gets a 404 naming the periods it was, without a third request.
    """
    current = get_current(client, table, spec, entity_id)
    if in_force(current, day):
        return current
    by_from = _query_versions(client, table, spec, entity_id, _HISTORY_SK_RANGE)
    by_from[current["effective_from"]] = current  # the commit point wins, as in get_history
    ordered = [by_from[k] for k in sorted(by_from)]
    for v in reversed(ordered):
        if v["effective_from"] <= day:
            if in_force(v, day):
                return v
            break
    raise NotFound(f"{spec.lname} {entity_id} was not listed on {day}; it was listed "
                   f"{describe_periods(listed_periods(ordered))} (half-open: 'until' is the "
                   "first day not listed)")


def overlapping(versions: list[dict[str, Any]], start: str | None,
                end: str | None) -> list[dict[str, Any]]:
    """Versions in force on at least one day of the closed range [start, end]."""
    return [v for v in versions
            if (end is None or v["effective_from"] <= end)
            and (start is None or v["effective_to"] > start)]
