"""``repair_by_ranges``: the repair of ``reconcile --repair`` and of replay's DynamoDB step, made
key range by key range so that memory stays that of one range.

The oracle is the whole-table repair plan (``plan_repair`` of ``project`` over every conformed
row and a full Scan): the ranged repair must make the same puts and deletes, whatever the range
size, and leave the table equal to the projection, reading no more than one range of rows per
query. The engine is the real one over the real conformed Iceberg table, DynamoDB is dynalite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conformed_rows import load_conformed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scd2_model import Scd2Model
from serving_support import SPEC, dates, scan_all, snapshots

from ppstack.backends import Runtime
from ppstack.serving.projection import project
from ppstack.serving.reconcile import reconcile, scan_entity
from ppstack.serving.repair import plan_repair, repair, repair_by_ranges
from ppstack.serving.sync import sync_rows


def synced(rt: Runtime, snaps: list[dict]) -> Scd2Model:
    """Every snapshot applied to the model and synced, then conformed loaded with its rows."""
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        sync_rows(rt, SPEC, b, model.batch_rows(b))
    load_conformed(rt, SPEC, model.all_rows(), model.dates)
    return model


def drift(rt: Runtime, data: st.DataObject) -> None:
    """Random drift: items lost, items changed, and extras of every kind (a stray version, a
    stray token between two keys, a change item of an unknown batch, an unknown key's item)."""
    c, t = rt.dynamodb, rt.settings.dynamodb_table
    items = sorted(scan_entity(c, t, SPEC))
    for pk, sk in data.draw(st.lists(st.sampled_from(items), unique=True, max_size=4)
                            if items else st.just([]), label="lost"):
        c.delete_item(TableName=t, Key={"PK": {"S": pk}, "SK": {"S": sk}})
    for pk, sk in data.draw(st.lists(st.sampled_from(items), unique=True, max_size=4)
                            if items else st.just([]), label="changed"):
        c.update_item(TableName=t, Key={"PK": {"S": pk}, "SK": {"S": sk}},
                      UpdateExpression="SET fingerprint = :x",
                      ExpressionAttributeValues={":x": {"S": "drifted"}})
    extras = [
        ("ITEM#DRUG#00000000001", "V#1999-01-01"),
        ("SEARCH#DRUG", "token#zzz#proprietary_name#DRUG#000000000015"),  # between two keys
        ("CHANGES#DRUG#20000101T000000.000000Z", "00000000002"),
        ("ITEM#DRUG#99999999999", "V#CURRENT"),
        ("BATCHES#DRUG", "20000101T000000.000000Z"),
    ]
    for pk, sk in data.draw(st.lists(st.sampled_from(extras), unique=True), label="extras"):
        c.put_item(TableName=t, Item={"PK": {"S": pk}, "SK": {"S": sk}})


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snaps=snapshots, range_keys=st.integers(1, 4), data=st.data())
def test_ranged_repair_equals_the_whole_table_plan(
        new_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch,
        snaps: list[dict], range_keys: int, data: st.DataObject) -> None:
    rt = new_runtime()
    model = synced(rt, snaps)
    drift(rt, data)
    expected = project(SPEC, model.all_rows(), model.dates)
    oracle = plan_repair(expected, scan_entity(rt.dynamodb, rt.settings.dynamodb_table, SPEC))
    widest: list[int] = []
    execute = rt.engine.execute

    def spy(sql: str, *args: Any) -> Any:  # the real engine still runs every statement
        result = execute(sql, *args)
        if SPEC.key in result.columns and len(result.columns) > 1:
            keys = {r[result.columns.index(SPEC.key)] for r in result.rows}
            widest.append(len(keys))
        return result

    monkeypatch.setattr(rt.engine, "execute", spy)
    stats = repair_by_ranges(rt, SPEC, batch_of_date=model.dates, range_keys=range_keys)
    monkeypatch.undo()
    assert (stats.missing, stats.stale, stats.extra, stats.expected) == (
        oracle.stats.missing, oracle.stats.stale, oracle.stats.extra, oracle.stats.expected)
    assert scan_all(rt.dynamodb, rt.settings.dynamodb_table) == expected
    assert max(widest, default=0) <= range_keys  # never more than one range of rows at once
    assert reconcile(rt, SPEC) == []
    assert repair(rt, SPEC).writes == 0  # nothing left to do


def test_ranged_repair_of_an_empty_table_deletes_every_item(
        new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    synced(rt, [{"00000000001": {"proprietary_name": "Prozac"}}])
    load_conformed(rt, SPEC, [])
    stats = repair_by_ranges(rt, SPEC)
    assert stats.extra > 0 and stats.missing == stats.stale == 0
    assert scan_entity(rt.dynamodb, rt.settings.dynamodb_table, SPEC) == {}
