"""The count dataclasses' ``to_dict``: the format the batch ledger stores and reads back."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import pytest

from ppstack.serving.apply import SyncStats
from ppstack.serving.counts import Counts, Total
from ppstack.serving.rebuild import RebuildStats
from ppstack.serving.repair import RepairStats

# The ledger's keys in order, and which of them the total sums (written out by hand).
FORMATS = {
    SyncStats: ("writes", ["inserted", "updated", "deleted", "history_puts", "current_puts",
                           "current_updates", "token_puts", "token_deletes", "change_puts",
                           "batch_puts", "conditional_skips", "reactivated", "stale"],
                {"history_puts", "current_puts", "current_updates", "token_puts",
                 "token_deletes", "change_puts", "batch_puts"}),
    RebuildStats: ("items", ["keys", "current_items", "history_items", "token_items",
                             "extra_deleted", "rank_items", "change_items", "batch_items"],
                   {"current_items", "history_items", "token_items", "rank_items",
                    "change_items", "batch_items"}),
    RepairStats: ("writes", ["missing", "stale", "extra", "expected"],
                  {"missing", "stale", "extra"}),
}


@pytest.mark.parametrize("cls", list(FORMATS), ids=lambda c: c.__name__)
def test_to_dict_is_the_fields_in_order_then_the_total(cls: type[Counts]) -> None:
    total, keys, summed = FORMATS[cls]
    values = {k: 3 ** i for i, k in enumerate(keys)}  # distinct powers: any wrong sum shows
    stats = cls(**values)
    expected = {**values, total: sum(values[k] for k in summed)}
    assert json.dumps(stats.to_dict()) == json.dumps(expected)
    assert getattr(stats, total) == expected[total]
    assert [f.name for f in fields(cls)] == keys  # the total is not a field (repr, asdict)


def test_a_total_cannot_be_set() -> None:
    with pytest.raises(AttributeError, match="sum of missing, stale, extra"):
        RepairStats().writes = 3  # type: ignore[misc]


def test_a_total_of_an_undeclared_field_fails_when_the_class_is_made() -> None:
    with pytest.raises((TypeError, RuntimeError)) as raised:  # Python < 3.12 wraps it
        @dataclass
        class Wrong(Counts):
            a: int = 0
            total = Total("a", "b")
    error = raised.value.__cause__ or raised.value
    assert str(error) == "Wrong.total sums undeclared fields ['b']"
