"""The change feed projection against an independent model: consecutive snapshots compared."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from scd2_model import Scd2Model, fingerprint
from serving_support import SPEC, dates, snapshots

from ppstack.serving.projection import project


def expected_changes(snaps: list[dict], batch_ids: list[str]) -> dict[tuple[str, str], tuple]:
    """(batch, id) -> (kind, old fp, new fp), by diffing each snapshot with the one before."""
    out: dict[tuple[str, str], tuple] = {}
    seen: dict[str, str] = {}  # id -> last fingerprint it had
    prev: dict[str, str] = {}
    for snap, batch in zip(snaps, batch_ids, strict=True):
        now = {k: fingerprint(SPEC, {**b, SPEC.key: k}) for k, b in snap.items()}
        for k, fp in now.items():
            if k not in prev:
                kind = "reactivated" if k in seen else "inserted"
                out[(batch, k)] = (kind, seen.get(k), fp)
            elif prev[k] != fp:
                out[(batch, k)] = ("updated", prev[k], fp)
        for k in prev.keys() - now.keys():
            out[(batch, k)] = ("deleted", prev[k], None)
        seen.update(now)
        prev = now
    return out


@settings(max_examples=60, deadline=None)
@given(snaps=snapshots)
def test_change_items_equal_snapshot_differences(snaps: list[dict]) -> None:
    model = Scd2Model(SPEC)
    batch_ids = [model.apply(s, d) for s, d in zip(snaps, dates(len(snaps)), strict=True)]
    items = project(SPEC, model.all_rows(), model.dates)
    got = {
        (pk.split("#", 2)[2], sk): (i["kind"]["S"], i.get("old_fingerprint", {}).get("S"),
                                    i.get("new_fingerprint", {}).get("S"))
        for (pk, sk), i in items.items() if pk.startswith("CHANGES#DRUG#")
    }
    want = expected_changes(snaps, batch_ids)
    assert got == want
    day_of = dict(zip(batch_ids, (d.isoformat() for d in dates(len(snaps))), strict=True))
    batches = {sk: i for (pk, sk), i in items.items() if pk == "BATCHES#DRUG"}
    assert set(batches) == {b for b, _ in want}
    for b, item in batches.items():
        counts = Counter(kind for (batch, _), (kind, _, _) in want.items() if batch == b)
        assert {k: int(item[k]["N"]) for k in counts} == dict(counts)
        assert int(item["changes"]["N"]) == sum(counts.values())
        assert item["effective_date"]["S"] == day_of[b]
    for (pk, _), i in items.items():
        if pk.startswith("CHANGES#"):
            assert i["effective_date"]["S"] == day_of[i["batch_id"]["S"]]
