"""Rebuild from conformed alone, and reconcile's report of every kind of difference."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from scd2_model import Scd2Model
from serving_support import SPEC, dates, scan_all, snapshots

from ppstack.backends import Runtime
from ppstack.serving.projection import project
from ppstack.serving.rebuild import rebuild_rows
from ppstack.serving.reconcile import reconcile_rows
from ppstack.serving.sync import sync_rows

NDC = "00002322730"
OTHER = "00000000009"


def synced(rt: Runtime, snaps: list[dict]) -> Scd2Model:
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        sync_rows(rt, SPEC, b, model.batch_rows(b))
    return model


class Seen:
    """A meter that remembers the steps it was told."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps
        self.totals: list[int] = []

    def total(self, n: int) -> None:
        self.totals.append(n)

    def step(self, n: int) -> None:
        self.steps.append(n)

    def close(self) -> None:
        pass


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snaps=snapshots)
def test_rebuild_rows_equals_incremental_sync(
    new_runtime: Callable[..., Runtime], snaps: list[dict]
) -> None:
    incremental = new_runtime()
    model = synced(incremental, snaps)
    rebuilt = new_runtime()
    seen: list[int] = []
    stats = rebuild_rows(rebuilt, SPEC, model.all_rows(), meter=Seen(seen))
    a = scan_all(incremental.dynamodb, incremental.settings.dynamodb_table)
    b = scan_all(rebuilt.dynamodb, rebuilt.settings.dynamodb_table)
    assert a == b == project(SPEC, model.all_rows(), model.dates)
    assert sum(seen) == stats.items == len(b)
    assert reconcile_rows(rebuilt, SPEC, model.all_rows(), batch_of_date=model.dates) == []


def drift(rt: Runtime) -> None:
    """Missing, changed and extra items and stray tokens, as a crash or a bad hand edit leaves."""
    c, t = rt.dynamodb, rt.settings.dynamodb_table
    pk = f"ITEM#DRUG#{NDC}"
    c.delete_item(TableName=t, Key={"PK": {"S": f"ITEM#DRUG#{OTHER}"}, "SK": {"S": "V#CURRENT"}})
    c.update_item(TableName=t, Key={"PK": {"S": pk}, "SK": {"S": "V#2025-01-03"}},
                  UpdateExpression="SET proprietary_name = :v",
                  ExpressionAttributeValues={":v": {"S": "Wrong"}})
    c.update_item(TableName=t, Key={"PK": {"S": pk}, "SK": {"S": "V#CURRENT"}},
                  UpdateExpression="REMOVE opened_batch_id")
    c.put_item(TableName=t, Item={"PK": {"S": pk}, "SK": {"S": "V#1999-01-01"}})
    c.delete_item(TableName=t, Key={"PK": {"S": "SEARCH#DRUG"},
                                    "SK": {"S": f"token#weekly#proprietary_name#DRUG#{NDC}"}})
    c.put_item(TableName=t, Item={"PK": {"S": "SEARCH#DRUG"},
                                  "SK": {"S": f"token#zzz#proprietary_name#DRUG#{NDC}"}})
    # Another entity type's item: neither reported nor touched by a DRUG repair.
    c.put_item(TableName=t, Item={"PK": {"S": "ITEM#LABELER#00002"}, "SK": {"S": "V#CURRENT"}})


@pytest.fixture
def drifted(new_runtime: Callable[..., Runtime]) -> tuple[Runtime, Scd2Model]:
    """Two keys synced over two batches, then every kind of ``drift``: (runtime, model)."""
    rt = new_runtime()
    model = synced(rt, [
        {NDC: {"proprietary_name": "Prozac"}, OTHER: {"proprietary_name": "Advil"}},
        {NDC: {"proprietary_name": "Prozac Weekly"}, OTHER: {"proprietary_name": "Advil"}},
    ])
    drift(rt)
    return rt, model


def test_reconcile_rows_reports_each_kind_of_difference(
        drifted: tuple[Runtime, Scd2Model]) -> None:
    rt, model = drifted
    pk = f"ITEM#DRUG#{NDC}"
    diffs = reconcile_rows(rt, SPEC, model.all_rows(), batch_of_date=model.dates)
    got = {(d.kind, d.pk, d.sk) for d in diffs}
    assert got == {
        ("missing", f"ITEM#DRUG#{OTHER}", "V#CURRENT"),
        ("stale", pk, "V#2025-01-03"),
        ("stale", pk, "V#CURRENT"),
        ("extra", pk, "V#1999-01-01"),
        ("missing_token", "SEARCH#DRUG", f"token#weekly#proprietary_name#DRUG#{NDC}"),
        ("extra_token", "SEARCH#DRUG", f"token#zzz#proprietary_name#DRUG#{NDC}"),
    }
    stale = next(d for d in diffs if d.sk == "V#2025-01-03")
    assert stale.detail.startswith("proprietary_name:") and "'Wrong'" in stale.detail


def test_reconcile_rows_clean_table_has_no_differences(new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    model = synced(rt, [{NDC: {"proprietary_name": "Prozac"}}, {}])
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []


# ---- repair, and rebuild removing extras ------------------------------------------------------

def test_repair_rows_fixes_every_kind_of_drift(drifted: tuple[Runtime, Scd2Model]) -> None:
    from ppstack.serving.repair import repair_rows

    rt, model = drifted
    assert len(reconcile_rows(rt, SPEC, model.all_rows())) == 6
    stats = repair_rows(rt, SPEC, model.all_rows())
    assert (stats.missing, stats.stale, stats.extra) == (2, 2, 2)
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []
    items = scan_all(rt.dynamodb, rt.settings.dynamodb_table)
    assert ("ITEM#LABELER#00002", "V#CURRENT") in items
    # repeating it finds nothing left to do
    assert repair_rows(rt, SPEC, model.all_rows()).writes == 0


def feed_drift(rt: Runtime, model: Scd2Model) -> set[tuple[str, str, str]]:
    """A lost change item, a batch item with a wrong count and a stray change item; returns
    the differences reconcile must report."""
    c, t = rt.dynamodb, rt.settings.dynamodb_table
    first, second = (model.dates[d] for d in sorted(model.dates))
    lost = (f"CHANGES#DRUG#{second}", NDC)
    stray = (f"CHANGES#DRUG#{second}", "00000000042")
    wrong = ("BATCHES#DRUG", first)
    c.delete_item(TableName=t, Key={"PK": {"S": lost[0]}, "SK": {"S": lost[1]}})
    c.update_item(TableName=t, Key={"PK": {"S": wrong[0]}, "SK": {"S": wrong[1]}},
                  UpdateExpression="SET inserted = :n",
                  ExpressionAttributeValues={":n": {"N": "7"}})
    c.put_item(TableName=t, Item={"PK": {"S": stray[0]}, "SK": {"S": stray[1]},
                                  "kind": {"S": "inserted"}})
    return {("missing_change", *lost), ("stale_batch", *wrong), ("extra_change", *stray)}


def test_change_feed_drift_is_reported_repaired_and_rebuilt(
        new_runtime: Callable[..., Runtime]) -> None:
    from ppstack.serving.repair import repair_rows

    snaps = [{NDC: {"proprietary_name": "Prozac"}, OTHER: {"proprietary_name": "Advil"}},
             {NDC: {"proprietary_name": "Prozac Weekly"}}]
    for fix in ("repair", "rebuild"):
        rt = new_runtime()
        model = synced(rt, snaps)
        expected = feed_drift(rt, model)
        diffs = reconcile_rows(rt, SPEC, model.all_rows(), batch_of_date=model.dates)
        assert {(d.kind, d.pk, d.sk) for d in diffs} == expected
        if fix == "repair":
            stats = repair_rows(rt, SPEC, model.all_rows(), batch_of_date=model.dates)
            assert (stats.missing, stats.stale, stats.extra) == (1, 1, 1)
        else:
            assert rebuild_rows(rt, SPEC, model.all_rows(),
                                batch_of_date=model.dates).extra_deleted == 1
        assert reconcile_rows(rt, SPEC, model.all_rows(), batch_of_date=model.dates) == []


def test_plan_repair_puts_current_after_versions_and_deletes_last() -> None:
    from ppstack.serving.repair import plan_repair

    model = Scd2Model(SPEC)
    model.apply({NDC: {"proprietary_name": "Prozac"}}, dates(1)[0])
    expected = project(SPEC, model.all_rows())
    stray = ("SEARCH#DRUG", f"token#old#proprietary_name#DRUG#{NDC}")
    plan = plan_repair(expected, {stray: {"PK": {"S": stray[0]}, "SK": {"S": stray[1]}}})
    assert all(i["SK"]["S"] != "V#CURRENT" for i in plan.puts_first)
    assert [i["SK"]["S"] for i in plan.puts_current] == ["V#CURRENT"]
    assert plan.deletes == [stray]
    assert plan.stats.missing == len(expected) and plan.stats.extra == 1


def test_rebuild_rows_removes_extras(drifted: tuple[Runtime, Scd2Model]) -> None:
    rt, model = drifted
    stats = rebuild_rows(rt, SPEC, model.all_rows())
    assert stats.extra_deleted == 2
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []


def rank_drift(rt: Runtime) -> dict[str, str]:
    """A rank item with other content, one missing, and one an older tokenizer left behind;
    returns sort key -> the kind reconcile must report."""
    c, t = rt.dynamodb, rt.settings.dynamodb_table
    stale, missing = f"rank#weekly#002#DRUG#{NDC}", f"rank#prozac#002#DRUG#{NDC}"
    extra = f"rank#prozac#001#DRUG#{NDC}"  # the key before the name grew to two words
    c.update_item(TableName=t, Key={"PK": {"S": "SEARCH#DRUG"}, "SK": {"S": stale}},
                  UpdateExpression="SET d = :d", ExpressionAttributeValues={":d": {"S": "x"}})
    c.delete_item(TableName=t, Key={"PK": {"S": "SEARCH#DRUG"}, "SK": {"S": missing}})
    c.put_item(TableName=t, Item={"PK": {"S": "SEARCH#DRUG"}, "SK": {"S": extra},
                                  "entity_id": {"S": NDC}, "d": {"S": "prozac||||||"}})
    return {stale: "stale_token", missing: "missing_token", extra: "extra_token"}


def test_reconcile_repair_and_rebuild_cover_rank_items(
        new_runtime: Callable[..., Runtime]) -> None:
    from ppstack.serving.repair import repair_rows

    snaps: list[dict] = [{NDC: {"proprietary_name": "Prozac"}},
                         {NDC: {"proprietary_name": "Prozac Weekly"}}]
    rt = new_runtime()
    model = synced(rt, snaps)
    want = rank_drift(rt)
    assert {d.sk: d.kind for d in reconcile_rows(rt, SPEC, model.all_rows())} == want
    stats = repair_rows(rt, SPEC, model.all_rows())
    assert (stats.missing, stats.stale, stats.extra) == (1, 1, 1)
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []

    rt = new_runtime()
    model = synced(rt, snaps)
    rank_drift(rt)
    assert rebuild_rows(rt, SPEC, model.all_rows()).extra_deleted == 1
    assert reconcile_rows(rt, SPEC, model.all_rows()) == []
