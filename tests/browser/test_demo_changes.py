"""After ``ppstack demo``'s three days the change feed lists exactly what each day changed."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from .conftest import Demo


def get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as resp:
        return json.loads(resp.read())


def changes(base: str, batch_id: str) -> dict[str, str]:
    """entity id -> kind, every page of GET /changes/drug."""
    out: dict[str, str] = {}
    cursor = ""
    while True:
        page = get(base, f"/changes/drug?batch_id={batch_id}&limit=100{cursor}")
        out.update({c["entity_id"]: c["kind"] for c in page["changes"]})
        if page["next_cursor"] is None:
            return out
        cursor = "&cursor=" + page["next_cursor"]


def keys(snapshot: dict[str, Any], what: str) -> set[str]:
    return {r["ndc11"] for r in snapshot[what]}


def test_day_2_and_day_3_change_lists_match_the_batch_reports(demo: Demo) -> None:
    day2, day3 = demo.batches[1], demo.batches[2]
    snap2, snap3 = demo.scenario["snapshots"][1], demo.scenario["snapshots"][2]
    got2 = changes(demo.base_url, day2["batch_id"])
    counts = day2["counts"]
    assert (counts["inserted"], counts["updated"], counts["deleted"]) == (54, 81, 54)
    assert {k for k, v in got2.items() if v == "inserted"} == keys(snap2, "new")
    assert {k for k, v in got2.items() if v == "updated"} == keys(snap2, "changed")
    assert {k for k, v in got2.items() if v == "deleted"} == keys(snap2, "disappeared")
    assert len(got2) == 54 + 81 + 54

    got3 = changes(demo.base_url, day3["batch_id"])
    assert {k for k, v in got3.items() if v == "reactivated"} == keys(snap3, "reactivated")
    assert len(keys(snap3, "reactivated")) == 27
    assert {k for k, v in got3.items() if v == "inserted"} == keys(snap3, "new")
    assert sum(v in ("inserted", "reactivated") for v in got3.values()) == \
        day3["counts"]["inserted"]


def test_batches_latest_first_and_limit_one_tells_freshness(demo: Demo) -> None:
    listed = get(demo.base_url, "/batches/drug")["batches"]
    assert [b["batch_id"] for b in listed] == [b["batch_id"] for b in reversed(demo.batches)]
    latest = get(demo.base_url, "/batches/drug?limit=1")
    assert latest["batches"][0]["effective_date"] == demo.batches[-1]["date"]
    assert latest["next_cursor"] is not None
    assert latest["batches"][0]["reactivated"] == 27
