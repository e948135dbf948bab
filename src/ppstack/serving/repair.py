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
``ppstack replay`` and finishes ``ppstack sync --rebuild``. Read from the engine
(``reconcile --repair``, replay), it runs key range by key range (``repair_by_ranges``) so that
memory stays that of one range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.progress import NULL_METER, Meter
from ppstack.serving import retry
from ppstack.serving.apply import DEFAULT_WORKERS
from ppstack.serving.changes import BatchTally, comparable, named_dates, now_utc, stamped
from ppstack.serving.counts import Counts, Total
from ppstack.serving.keys import CURRENT_SK
from ppstack.serving.projection import (
    Item,
    ItemKey,
    Row,
    group_by_key,
    key_changes,
    key_of,
    project,
    project_part,
)
from ppstack.serving.read import (
    DEFAULT_RANGE_KEYS,
    as_spec,
    batch_dates,
    key_ranges,
    range_rows,
)
from ppstack.serving.reconcile import scan_entity, scan_pages
from ppstack.serving.table import ensure_table


@dataclass
class RepairStats(Counts):
    """What one repair wrote: puts of missing and differing (stale) items, deletes of extra
    ones; ``expected`` is how many items the projection holds (read, not written)."""

    missing: int = 0
    stale: int = 0
    extra: int = 0
    expected: int = 0

    writes = Total("missing", "stale", "extra")


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
    first, current, stats = _puts(
        expected, lambda key, want: (None if key not in actual
                                     else comparable(actual[key]) == comparable(want)),
        synced_at or now_utc())
    deletes = sorted(k for k in actual if k not in expected)
    stats.extra = len(deletes)
    return RepairPlan(first, current, deletes, stats)


def _puts(expected: Mapping[ItemKey, Item], same: Callable[[ItemKey, Item], bool | None],
          stamp: str) -> tuple[list[Item], list[Item], RepairStats]:
    """The puts of a plan: every expected item that is missing (``same`` None) or differs
    (False), V#CURRENT items apart."""
    stats = RepairStats(expected=len(expected))
    first: list[Item] = []
    current: list[Item] = []
    for key in sorted(expected):
        found = same(key, expected[key])
        if found:
            continue
        if found is None:
            stats.missing += 1
        else:
            stats.stale += 1
        (current if key[1] == CURRENT_SK else first).append(stamped(expected[key], stamp))
    return first, current, stats


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
    """Read ``conformed.<entity>`` through the engine, range by range, and repair its DynamoDB
    items (``repair_by_ranges``)."""
    spec = as_spec(spec)
    return repair_by_ranges(rt, spec, batch_of_date=batch_dates(rt, spec), **kwargs)


def repair_by_ranges(rt: Any, spec: EntitySpec, *, batch_of_date: Mapping[str, str] | None = None,
                     table: str | None = None, range_keys: int = DEFAULT_RANGE_KEYS,
                     workers: int = DEFAULT_WORKERS, meter: Meter = NULL_METER) -> RepairStats:
    """``repair`` of ``conformed.<entity>`` (or ``table``) in bounded memory, key range by range.

    1. a parallel Scan puts the entity's items found in DynamoDB on disk (``found``): key,
       entity id and a digest of the content;
    2. a first read of the table, range by range, gathers the dates its rows name a batch for
       (what ``project`` learns from all rows at once, ``serving.changes``);
    3. then, range by range (``range_keys`` keys): the range's rows are projected
       (``project_part``: versions, tokens, change items), compared with the found items of the
       same entity ids, and the missing or different ones put: history and tokens, then
       V#CURRENT, as ``apply_repair`` orders them; the found items the range expects are struck;
    4. the batch items, once every range counted its changes;
    5. the deletes: the found items no range expected (extra versions, stale tokens, change
       and batch items of batches the table no longer has).

    Puts never remove what the API reads, and every delete waits for the last put, so the API
    answers throughout. Nothing is checkpointed: a rerun after a kill scans again and puts
    only what is still missing, so it converges. ``meter`` counts keys.
    """
    from ppstack.serving.found import FoundItems, digest

    client, name = rt.dynamodb, rt.settings.dynamodb_table
    ensure_table(client, name)
    total = RepairStats()
    stamp = now_utc()

    def put(expected: dict[ItemKey, Item], found: dict[ItemKey, bytes]) -> None:
        first, current, stats = _puts(
            expected, lambda key, want: None if key not in found else found[key] == digest(want),
            stamp)
        apply_repair(client, name, RepairPlan(first, current, [], stats), workers=workers)
        total.expected += stats.expected
        total.missing += stats.missing
        total.stale += stats.stale

    with FoundItems(spec) as found:
        scan_pages(client, name, spec, found.add, workers)
        ranges = key_ranges(rt, spec, range_keys, table)
        meter.total(sum(n for _first, _last, n in ranges))
        named: dict[str, str] = {}
        for first, last, _n in ranges:
            named.update(named_dates(key_changes(
                spec, group_by_key(spec, range_rows(rt, spec, first, last, table)))))
        dates = {**(batch_of_date or {}), **named}
        tally = BatchTally()
        for first, last, n in ranges:
            groups = group_by_key(spec, range_rows(rt, spec, first, last, table))
            expected = project_part(spec, groups, key_changes(spec, groups), dates, tally)
            part = found.between(first, last)
            put(expected, part)
            found.expected(k for k in expected if k in part)
            meter.step(n)
        batches = {key_of(i): i for i in tally.batch_items(spec.name)}
        part = found.between(None, None)
        put(batches, part)
        found.expected(k for k in batches if k in part)
        for keys in found.remaining(retry.BATCH_WRITE_MAX * max(1, workers) * 8):
            apply_repair(client, name, RepairPlan([], [], keys, RepairStats()), workers=workers)
            total.extra += len(keys)
    return total
