"""The projection, checked against the SCD2 model's rows by independent counting."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from scd2_model import Scd2Model
from serving_support import SPEC, dates, snapshots

from ppstack.serving.keys import tokenize
from ppstack.serving.projection import project


def build(snaps: list[dict]) -> Scd2Model:
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        model.apply(snap, day)
    return model


@settings(max_examples=60, deadline=None)
@given(snaps=snapshots)
def test_project_one_current_per_key_history_per_closed_tokens_for_current(
        snaps: list[dict]) -> None:
    model = build(snaps)
    items = project(SPEC, model.all_rows(), model.dates)
    rows = model.all_rows()
    keys = {r["ndc"] for r in rows}
    currents = {pk for (pk, sk) in items if sk == "V#CURRENT"}
    assert currents == {f"ITEM#DRUG#{k}" for k in keys}
    history = [(pk, sk) for (pk, sk) in items if pk.startswith("ITEM#") and sk != "V#CURRENT"]
    assert sorted(history) == sorted(
        (f"ITEM#DRUG#{r['ndc']}", f"V#{r['active_from'].isoformat()}")
        for r in rows if not r["is_current"]
    )
    for k in keys:
        versions = sorted((r for r in rows if r["ndc"] == k), key=lambda r: r["active_from"])
        newest = versions[-1]
        item = items[(f"ITEM#DRUG#{k}", "V#CURRENT")]
        assert item["effective_from"]["S"] == newest["active_from"].isoformat()
        assert item["is_current"]["BOOL"] is newest["is_current"]
        assert item["fingerprint"]["S"] == newest["fingerprint"]
    expected_tokens = {
        f"token#{t}#{f}#DRUG#{r['ndc']}"
        for r in rows if r["is_current"] for f in SPEC.search_fields for t in tokenize(r.get(f))
    }
    expected_rank = set()
    for r in rows:
        if not r["is_current"]:
            continue
        per = {f.name: set(tokenize(r.get(f.name))) for f in SPEC.search}
        n = len({t for f in SPEC.search if f.tier == 0 for t in per[f.name]})
        for t in set().union(*per.values()):
            tier = min(f.tier for f in SPEC.search if t in per[f.name])
            expected_rank.add(f"rank#{t}#{tier}{n:02d}#DRUG#{r['ndc']}")
    assert {sk for (pk, sk) in items if pk == "SEARCH#DRUG"} == expected_tokens | expected_rank


def test_project_history_item_carries_closing_batch_and_close_date() -> None:
    model = Scd2Model(SPEC)
    model.apply({"00000000001": {"proprietary_name": "Prozac"}}, date(2025, 1, 3))
    b2 = model.apply({"00000000001": {"proprietary_name": "Advil"}}, date(2025, 1, 10))
    item = project(SPEC, model.all_rows(), model.dates)[("ITEM#DRUG#00000000001", "V#2025-01-03")]
    assert item["last_ingestion_batch_id"] == {"S": b2}
    assert item["effective_to"] == {"S": "2025-01-10"}
    assert item["proprietary_name"] == {"S": "Prozac"}
    assert item["is_current"] == {"BOOL": False}
