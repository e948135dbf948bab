"""Rebuild from conformed alone, and reconcile's report of every kind of difference."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from scd2_model import Scd2Model
from serving_support import SPEC, dates, scan_all, snapshots

from ppstack.backends import Runtime
from ppstack.serving.projection import project
from ppstack.serving.rebuild import rebuild_rows
from ppstack.serving.reconcile import reconcile_rows
from ppstack.serving.sync import sync_rows

NDC = "00002322730"


def synced(rt: Runtime, snaps: list[dict]) -> Scd2Model:
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        sync_rows(rt, SPEC, b, model.batch_rows(b))
    return model


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snaps=snapshots)
def test_rebuild_rows_equals_incremental_sync(
    new_runtime: Callable[..., Runtime], snaps: list[dict]
) -> None:
    incremental = new_runtime()
    model = synced(incremental, snaps)
    rebuilt = new_runtime()
    seen: list[int] = []
    stats = rebuild_rows(rebuilt, SPEC, model.all_rows(), progress=seen.append)
    a = scan_all(incremental.dynamodb, incremental.settings.dynamodb_table)
    b = scan_all(rebuilt.dynamodb, rebuilt.settings.dynamodb_table)
    assert a == b == project(SPEC, model.all_rows())
    assert sum(seen) == stats.items == len(b)
    assert reconcile_rows(rebuilt, SPEC, model.all_rows()) == []


def test_reconcile_rows_reports_each_kind_of_difference(new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    other = "00000000009"
    model = synced(rt, [
        {NDC: {"proprietary_name": "Prozac"}, other: {"proprietary_name": "Advil"}},
        {NDC: {"proprietary_name": "Prozac Weekly"}, other: {"proprietary_name": "Advil"}},
    ])
    c, t = rt.dynamodb, rt.settings.dynamodb_table
    pk = f"ITEM#DRUG#{NDC}"
    c.delete_item(TableName=t, Key={"PK": {"S": f"ITEM#DRUG#{other}"}, "SK": {"S": "V#CURRENT"}})
    c.update_item(TableName=t, Key={"PK": {"S": pk}, "SK": {"S": "V#2025-01-03"}},
                  UpdateExpression="SET proprietary_name = :v",
                  ExpressionAttributeValues={":v": {"S": "Wrong"}})
    c.put_item(TableName=t, Item={"PK": {"S": pk}, "SK": {"S": "V#1999-01-01"}})
    c.delete_item(TableName=t, Key={"PK": {"S": "SEARCH#DRUG"},
                                    "SK": {"S": f"token#weekly#proprietary_name#DRUG#{NDC}"}})
    c.put_item(TableName=t, Item={"PK": {"S": "SEARCH#DRUG"},
                                  "SK": {"S": f"token#zzz#proprietary_name#DRUG#{NDC}"}})
    c.put_item(TableName=t, Item={"PK": {"S": "ITEM#LABELER#00002"}, "SK": {"S": "V#CURRENT"}})
    diffs = reconcile_rows(rt, SPEC, model.all_rows())
    got = {(d.kind, d.pk, d.sk) for d in diffs}
    assert got == {
        ("missing", f"ITEM#DRUG#{other}", "V#CURRENT"),
        ("stale", pk, "V#2025-01-03"),
        ("extra", pk, "V#1999-01-01"),
        ("missing_token", "SEARCH#DRUG", f"token#weekly#proprietary_name#DRUG#{NDC}"),
        ("extra_token", "SEARCH#DRUG", f"token#zzz#proprietary_name#DRUG#{NDC}"),
    }
    stale = next(d for d in diffs if d.kind == "stale")
    assert stale.detail.startswith("proprietary_name:") and "'Wrong'" in stale.detail


def test_reconcile_rows_clean_table_has_no_differences(new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    model = synced(rt, [{NDC: {"proprietary_name": "Prozac"}}, {}])
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []
