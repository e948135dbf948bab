"""check_invariants finds every kind of violation it promises to (and nothing in good history)."""

from __future__ import annotations

import pytest

from ppstack.pipeline.invariants import check_invariants

OPEN = "9999-12-31"


def row(key: str, start: str, end: str = OPEN, batch: str = "b1", **extra) -> dict:
    return {"ndc": key, "active_from": start, "active_to": end, "is_current": end == OPEN,
            "ingestion_batch_id": batch, "ingestion_timestamp": batch, "fingerprint": "f",
            "proprietary_name": "x", **extra}


GOOD_BEFORE = [row("1", "2025-01-01"), row("2", "2025-01-01")]
GOOD_AFTER = [row("1", "2025-01-01", "2025-01-02", "b2"), row("1", "2025-01-02", batch="b2",
              proprietary_name="y"), row("2", "2025-01-01")]


def test_invariants_good_history_passes() -> None:
    assert check_invariants(GOOD_BEFORE, GOOD_AFTER, "ndc") == []


@pytest.mark.parametrize(("before", "after", "expected"), [
    ([], [row("1", "2025-01-01"), row("1", "2025-01-02")], "current rows"),
    ([], [{**row("1", "2025-01-01"), "is_current": False}], "is_current=False"),
    ([], [row("1", "2025-01-03", "2025-01-02")], ">= active_to"),
    ([], [row("1", "2025-01-01", "2025-01-05", "b1"), row("1", "2025-01-03", batch="b2")],
     "overlap"),
    ([], [row("1", "2025-01-01", "2025-01-02", "b2"), row("1", "2025-01-04", batch="b2")], "gap"),
    (GOOD_BEFORE, GOOD_AFTER[:2], "disappeared"),
    ([row("1", "2025-01-01", "2025-01-02")], [row("1", "2025-01-01", "2025-01-03")],
     "closed version"),
    (GOOD_BEFORE, [{**GOOD_BEFORE[0], "proprietary_name": "z"}, GOOD_BEFORE[1]],
     "more than closing"),
])
def test_invariants_violation_is_reported(before: list, after: list, expected: str) -> None:
    problems = check_invariants(before, after, "ndc", raise_on_violation=False)
    assert any(expected in p for p in problems), problems
    with pytest.raises(AssertionError, match="SCD2 invariants violated"):
        check_invariants(before, after, "ndc")
