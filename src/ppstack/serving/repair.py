"""``ppstack reconcile ENTITY --repair``: make DynamoDB equal to the projection of conformed.

Generic over the projection: whatever items ``projection.project`` says the entity must have
(version items, tokens, or any item kind added to the projection later) are the expected set,
and whatever a Scan finds under the entity's partition keys is the actual set. Repair then

1. puts every expected item that is missing or differs: first everything but ``V#CURRENT``
   (history versions, search tokens), then the ``V#CURRENT`` items, so a reader who follows a
   token or a current item to its versions finds them written already;
2. deletes every item the projection does not contain (extra versions, stray tokens).

This is the sync's own order (history -> new tokens -> current -> old tokens), so the API keeps
answering for every entity that exists before and after: nothing it needs is deleted before its
replacement is written. Puts overwrite and deletes of absent keys are no-ops, so an interrupted
repair is finished by running it again. The same routine brings DynamoDB in step after a
``ppstack replay`` and finishes ``ppstack sync --rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.progress import NULL_METER, Meter
from ppstack.serving import retry
from ppstack.serving.apply import DEFAULT_WORKERS
from ppstack.serving.changes import comparable, now_utc, stamped
from ppstack.serving.keys import CURRENT_SK
from ppstack.serving.projection import Item, ItemKey, Row, project
from ppstack.serving.read import all_rows, as_spec, batch_dates
from ppstack.serving.reconcile import scan_entity
from ppstack.serving.table import ensure_table


@dataclass
class RepairStats:
    """What one repair wrote: puts of missing / differing items, deletes of extras."""

    missing: int = 0
    stale: int = 0
    extra: int = 0
    expected: int = 0

    @property
    def writes(self) -> int:
        return self.missing + self.stale + self.extra

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "writes": self.writes}


@dataclass(frozen=True)
class RepairPlan:
    """The writes that turn ``actual`` into ``expected``, in the order they must happen."""

    puts_first: list[Item]  # history versions and tokens
    puts_current: list[Item]  # V#CURRENT items (the per-entity commit point)
    deletes: list[ItemKey]  # items the projection does not contain
    stats: RepairStats


def plan_repair(expected: dict[ItemKey, Item], actual: dict[ItemKey, Item],
                synced_at: str | None = None) -> RepairPlan:
    """Which items to put and which to delete; a pure function of the two item sets (and of
    the time a batch item put is stamped with: ``serving.changes``)."""
    stats = RepairStats(expected=len(expected))
    first: list[Item] = []
    current: list[Item] = []
    stamp = synced_at or now_utc()
    for key in sorted(expected):
        want, have = expected[key], actual.get(key)
        if comparable(have) == comparable(want):
            continue
        want = stamped(want, stamp)
        if have is None:
            stats.missing += 1
        else:
            stats.stale += 1
        (current if key[1] == CURRENT_SK else first).append(want)
    deletes = sorted(k for k in actual if k not in expected)
    stats.extra = len(deletes)
    return RepairPlan(first, current, deletes, stats)


def _write(client: Any, table: str, requests: list[dict], workers: int, meter: Meter) -> None:
    """BatchWriteItem requests of distinct keys, ``workers`` requests in flight."""
    chunks = list(retry.chunked(requests, retry.BATCH_WRITE_MAX))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for n in pool.map(lambda c: retry.batch_write(client, table, c), chunks):
            meter.step(n)


def apply_repair(client: Any, table: str, plan: RepairPlan, *, workers: int = DEFAULT_WORKERS,
                 meter: Meter = NULL_METER) -> RepairStats:
    """Run the plan's three phases in order (each phase completes before the next starts)."""
    from ppstack.pipeline.killpoints import kill_point

    for items in (plan.puts_first, plan.puts_current):
        _write(client, table, [{"PutRequest": {"Item": i}} for i in items], workers, meter)
        if items:
            kill_point("during_sync")  # tests only: some puts written, not all
    deletes = [{"DeleteRequest": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}}
               for pk, sk in plan.deletes]
    _write(client, table, deletes, workers, meter)
    return plan.stats


def repair_rows(rt: Any, spec: EntitySpec, rows: Iterable[Row], *, workers: int = DEFAULT_WORKERS,
                meter: Meter = NULL_METER,
                batch_of_date: Mapping[str, str] | None = None) -> RepairStats:
    """Make the entity's items equal ``project(spec, rows)`` (``rows``: ALL conformed rows)."""
    expected = project(spec, rows, batch_of_date)
    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    actual = scan_entity(rt.dynamodb, rt.settings.dynamodb_table, spec, workers)
    plan = plan_repair(expected, actual)
    meter.total(plan.stats.writes)
    return apply_repair(rt.dynamodb, rt.settings.dynamodb_table, plan, workers=workers,
                        meter=meter)


def repair(rt: Any, spec: EntitySpec | str, **kwargs: Any) -> RepairStats:
    """Read ``conformed.<entity>`` through the engine and repair its DynamoDB items."""
    spec = as_spec(spec)
    return repair_rows(rt, spec, all_rows(rt, spec), batch_of_date=batch_dates(rt, spec),
                       **kwargs)
