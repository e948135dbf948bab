"""``ppstack reconcile ENTITY``: every difference between DynamoDB and the conformed table.

The expected content is ``projection.project`` of all conformed rows (the same function rebuild
uses); the actual content is a parallel Scan of the entity's items (``ITEM#<E>#…`` and
``SEARCH#<E>``, ``CHANGES#<E>#…``, ``BATCHES#<E>``). Differences: ``missing`` / ``extra`` /
``stale`` version items (stale names the attributes that differ), and the same with a suffix for
the other kinds: ``_token`` (search items), ``_change`` (change feed), ``_batch`` (batch items;
their ``synced_at`` is not compared, the conformed table cannot know it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.serving import retry
from ppstack.serving.apply import DEFAULT_WORKERS
from ppstack.serving.changes import comparable
from ppstack.serving.keys import batches_pk, changes_pk, item_pk, search_pk
from ppstack.serving.projection import Item, ItemKey, Row, key_of, project
from ppstack.serving.read import all_rows, as_spec, batch_dates
from ppstack.serving.table import ensure_table


@dataclass(frozen=True, order=True)
class Difference:
    pk: str
    sk: str
    kind: str  # missing | extra | stale | missing_token | extra_token | stale_token
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _show(value: dict[str, Any] | None) -> str:
    if value is None:
        return "(absent)"
    ((_, v),) = value.items()
    return repr(v)


def scan_pages(client: Any, table: str, spec: EntitySpec, sink: Callable[[list[Item]], None],
               segments: int = DEFAULT_WORKERS) -> None:
    """Hand every item of ``spec`` in the table to ``sink``, one Scan page at a time, read with
    ``segments`` parallel Scan segments (``sink`` is called from their threads)."""
    item_prefix = item_pk(spec.name, "")

    def segment(n: int) -> None:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "Segment": n,
            "TotalSegments": segments,
            "FilterExpression": ("begins_with(PK, :ip) OR PK = :sp "
                                 "OR begins_with(PK, :cp) OR PK = :bp"),
            "ExpressionAttributeValues": {
                ":ip": {"S": item_prefix}, ":sp": {"S": search_pk(spec.name)},
                ":cp": {"S": changes_pk(spec.name, "")}, ":bp": {"S": batches_pk(spec.name)},
            },
        }
        while True:
            page = retry.call(client.scan, **kwargs)
            sink(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with ThreadPoolExecutor(max(1, segments)) as pool:
        list(pool.map(segment, range(max(1, segments))))


def scan_entity(
    client: Any, table: str, spec: EntitySpec, segments: int = DEFAULT_WORKERS
) -> dict[ItemKey, Item]:
    """Every item of ``spec`` in the table, read with ``segments`` parallel Scan segments."""
    out: dict[ItemKey, Item] = {}

    def keep(items: list[Item]) -> None:
        out.update((key_of(i), i) for i in items)  # one dict update: atomic under the GIL

    scan_pages(client, table, spec, keep, segments)
    return out


def suffix_of(spec: EntitySpec, pk: str) -> str:
    """The Difference kind suffix of an item's partition ('' for version items)."""
    if pk == search_pk(spec.name):
        return "_token"
    if pk == batches_pk(spec.name):
        return "_batch"
    if pk.startswith(changes_pk(spec.name, "")):
        return "_change"
    return ""


def compare(spec: EntitySpec, expected: dict[ItemKey, Item],
            actual: dict[ItemKey, Item]) -> list[Difference]:
    """All differences between the expected items and the ones found, sorted by key."""
    diffs: list[Difference] = []
    for key in expected.keys() | actual.keys():
        pk, sk = key
        suffix = suffix_of(spec, pk)
        want, have = comparable(expected.get(key)), comparable(actual.get(key))
        if have is None:
            diffs.append(Difference(pk, sk, "missing" + suffix))
        elif want is None:
            diffs.append(Difference(pk, sk, "extra" + suffix))
        elif want != have:
            attrs = sorted(a for a in want.keys() | have.keys() if want.get(a) != have.get(a))
            detail = "; ".join(
                f"{a}: dynamodb={_show(have.get(a))} conformed={_show(want.get(a))}" for a in attrs
            )
            diffs.append(Difference(pk, sk, "stale" + suffix, detail))
    return sorted(diffs)


def reconcile_rows(
    rt: Any, spec: EntitySpec, rows: Iterable[Row], *, segments: int = DEFAULT_WORKERS,
    batch_of_date: Mapping[str, str] | None = None,
) -> list[Difference]:
    """Differences between the table and the projection of ``rows`` (ALL conformed rows)."""
    expected = project(spec, rows, batch_of_date)
    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    actual = scan_entity(rt.dynamodb, rt.settings.dynamodb_table, spec, segments)
    return compare(spec, expected, actual)


def reconcile(rt: Any, spec: EntitySpec | str, **kwargs: Any) -> list[Difference]:
    """Read ``conformed.<entity>`` through the engine and reconcile the table against it."""
    spec = as_spec(spec)
    return reconcile_rows(rt, spec, all_rows(rt, spec), batch_of_date=batch_dates(rt, spec),
                          **kwargs)
