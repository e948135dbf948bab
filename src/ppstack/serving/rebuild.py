"""``ppstack sync ENTITY --rebuild``: repopulate an empty table from the conformed table alone.

Writes exactly ``projection.project(spec, rows)`` (the same item functions the incremental
sync uses; batch items stamped with the time they are written) with unconditional
BatchWriteItem puts of 25, many requests in flight at once.
Puts overwrite, so a rebuild interrupted half-way is finished by running it again. On a table
that already holds items of the entity, the items the projection does not contain (extra
versions, stray tokens) are deleted after the puts (``serving.repair``'s order), so the table
ends equal to the projection and ``ppstack reconcile`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.progress import NULL_METER, Meter
from ppstack.serving import retry
from ppstack.serving.apply import DEFAULT_WORKERS
from ppstack.serving.changes import now_utc, stamped
from ppstack.serving.counts import Counts, Total
from ppstack.serving.keys import CURRENT_SK, RANK_PREFIX, batches_pk, changes_pk, search_pk
from ppstack.serving.projection import Item, Row, project
from ppstack.serving.read import all_rows, as_spec, batch_dates
from ppstack.serving.table import ensure_table


@dataclass
class RebuildStats(Counts):
    """What one rebuild did: the keys it wrote, the items it put by kind (``items`` is their
    sum) and the extra items it deleted."""

    keys: int = 0
    current_items: int = 0
    history_items: int = 0
    token_items: int = 0
    extra_deleted: int = 0
    rank_items: int = 0
    change_items: int = 0
    batch_items: int = 0

    items = Total("current_items", "history_items", "token_items", "rank_items", "change_items",
                  "batch_items")


def count_items(spec: EntitySpec, items: Iterable[Item]) -> RebuildStats:
    stats = RebuildStats()
    spk, bpk, cpk = search_pk(spec.name), batches_pk(spec.name), changes_pk(spec.name, "")
    for i in items:
        pk = i["PK"]["S"]
        if pk == spk and i["SK"]["S"].startswith(RANK_PREFIX):
            stats.rank_items += 1
        elif pk == spk:
            stats.token_items += 1
        elif pk == bpk:
            stats.batch_items += 1
        elif pk.startswith(cpk):
            stats.change_items += 1
        elif i["SK"]["S"] == CURRENT_SK:
            stats.current_items += 1
        else:
            stats.history_items += 1
    stats.keys = stats.current_items
    return stats


def write_items(
    client: Any,
    table: str,
    items: list[Item],
    *,
    workers: int = DEFAULT_WORKERS,
    meter: Meter = NULL_METER,
) -> int:
    """Unconditional BatchWriteItem puts of distinct items, ``workers`` requests in flight."""
    requests = [{"PutRequest": {"Item": i}} for i in items]
    chunks = list(retry.chunked(requests, retry.BATCH_WRITE_MAX))
    written = 0
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for n in pool.map(lambda c: retry.batch_write(client, table, c), chunks):
            written += n
            meter.step(n)
    return written


def rebuild_rows(
    rt: Any,
    spec: EntitySpec,
    rows: Iterable[Row],
    *,
    workers: int = DEFAULT_WORKERS,
    meter: Meter = NULL_METER,
    batch_of_date: Mapping[str, str] | None = None,
) -> RebuildStats:
    """Write every item ``rows`` (ALL conformed rows of the entity) imply.

    ``meter`` counts items: the total before writing starts, then what each request wrote.
    """
    from ppstack.serving.reconcile import scan_entity
    from ppstack.serving.repair import RepairPlan, RepairStats, apply_repair

    expected = project(spec, rows, batch_of_date)
    synced_at = now_utc()
    items = [stamped(i, synced_at) for i in expected.values()]
    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    # Found before writing: the extras are what the table holds beyond the projection.
    found = scan_entity(rt.dynamodb, rt.settings.dynamodb_table, spec, workers)
    extras = sorted(k for k in found if k not in expected)
    meter.total(len(items) + len(extras))
    write_items(rt.dynamodb, rt.settings.dynamodb_table, items, workers=workers, meter=meter)
    apply_repair(rt.dynamodb, rt.settings.dynamodb_table, RepairPlan([], [], extras, RepairStats()),
                 workers=workers, meter=meter)
    stats = count_items(spec, items)
    stats.extra_deleted = len(extras)
    return stats


def rebuild(rt: Any, spec: EntitySpec | str, **kwargs: Any) -> RebuildStats:
    """Read ``conformed.<entity>`` through the engine and rebuild its DynamoDB items."""
    spec = as_spec(spec)
    return rebuild_rows(rt, spec, all_rows(rt, spec), batch_of_date=batch_dates(rt, spec),
                        **kwargs)
