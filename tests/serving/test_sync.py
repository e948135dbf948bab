"""Sync worker acceptance on the real local DynamoDB server (dynalite).

Expected content always comes from ``projection.project`` of the model's conformed rows;
``test_projection.py`` checks that function against the model independently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date

import pytest
from dynamo_clients import CountingClient, InjectedCrash, RecordingClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scd2_model import Scd2Model
from serving_support import SPEC, dates, scan_all, snapshots

from ppstack.backends import Runtime
from ppstack.errors import PpstackError
from ppstack.serving.keys import tokenize
from ppstack.serving.projection import project
from ppstack.serving.reconcile import reconcile_rows
from ppstack.serving.sync import sync_rows

HYPO = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
NDC = "00002322730"


def run_batches(rt: Runtime, model: Scd2Model, snaps: list[dict], start: date = date(2025, 1, 3),
                **kwargs) -> list[str]:
    ids = []
    for snap, day in zip(snaps, dates(len(snaps), start), strict=True):
        b = model.apply(snap, day)
        sync_rows(rt, SPEC, b, model.batch_rows(b), **kwargs)
        ids.append(b)
    return ids


def expected_table(model: Scd2Model) -> dict:
    return project(SPEC, model.all_rows(), model.dates)


def search_state(row: dict | None) -> dict[tuple, object]:
    """Independent model of a row's search items: (kind, token, field or tier, ...) -> content.

    Token items: one per (token, field), no content. Rank items: one per token with the best
    tier and the name length, whose content is every field's tokens.
    """
    if row is None:
        return {}
    per = {f.name: tokenize(row.get(f.name)) for f in SPEC.search}
    out: dict[tuple, object] = {("t", t, f): None for f, toks in per.items() for t in toks}
    name = {t for f in SPEC.search if f.tier == 0 for t in per[f.name]}
    doc = tuple(tuple(per[f.name]) for f in SPEC.search)
    for t in {t for toks in per.values() for t in toks}:
        tier = min(f.tier for f in SPEC.search if t in per[f.name])
        out[("r", t, tier, len(name))] = doc
    return out


def minimum_writes(model: Scd2Model, batch_id: str) -> int:
    """Independent count: history puts + one V#CURRENT write and one change item per key +
    search item differences (items new or with other content, and items gone), + one batch item
    when the batch changed anything."""
    by_key: dict[str, dict[bool, dict]] = {}
    for r in model.batch_rows(batch_id):
        by_key.setdefault(r["ndc"], {})[r["is_current"]] = r

    total = 0
    for versions in by_key.values():
        old_row, new_row = versions.get(False), versions.get(True)
        old, new = search_state(old_row), search_state(new_row)
        changed = sum(1 for k, v in new.items() if k not in old or old[k] != v)
        total += (old_row is not None) + 2 + changed + len(old.keys() - new.keys())
    return total + (1 if by_key else 0)


@HYPO
@given(snaps=snapshots)
def test_sync_rows_random_batches_equal_projection_with_minimum_writes(
    new_runtime: Callable[..., Runtime], runtime: Runtime, snaps: list[dict]
) -> None:
    counter = CountingClient(runtime.dynamodb)
    rt = new_runtime(counter)
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        before = counter.items_written
        stats = sync_rows(rt, SPEC, b, model.batch_rows(b))
        assert counter.items_written - before == minimum_writes(model, b) == stats.writes
        assert stats.conditional_skips == 0
    assert scan_all(runtime.dynamodb, rt.settings.dynamodb_table) == expected_table(model)
    assert reconcile_rows(rt, SPEC, model.all_rows(), batch_of_date=model.dates) == []


PHASE_ORDER = ("history", "add", "current", "remove")


@HYPO
@given(snaps=snapshots)
def test_sync_rows_keeps_the_order_per_key_with_chunks_in_flight(
    new_runtime: Callable[..., Runtime], runtime: Runtime, snaps: list[dict]
) -> None:
    """Chunks of two keys, several written at once: every write of a key's phase has ENDED
    before any write of its next phase STARTS (docs/sync.md#the-order-per-key), and the table
    still equals the projection."""
    recorder = RecordingClient(runtime.dynamodb)
    rt = new_runtime(recorder)
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        recorder.events.clear()
        sync_rows(rt, SPEC, b, model.batch_rows(b), workers=4, chunk_size=2)
        spans: dict[tuple[str, str], tuple[int, int]] = {}
        for eid, phase, start, end in recorder.events:
            first, last = spans.get((eid, phase), (start, end))
            spans[(eid, phase)] = (min(first, start), max(last, end))
        for eid in {eid for eid, _ in spans}:
            done = [spans[(eid, ph)] for ph in PHASE_ORDER if (eid, ph) in spans]
            for (_, ended), (started, _) in zip(done, done[1:], strict=False):
                assert ended < started, (eid, done)
    assert scan_all(runtime.dynamodb, rt.settings.dynamodb_table) == expected_table(model)


@HYPO
@given(snaps=snapshots, data=st.data())
def test_sync_rows_crash_at_any_write_then_resync_converges(
    new_runtime: Callable[..., Runtime], runtime: Runtime, snaps: list[dict], data: st.DataObject
) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    run_batches(rt, model, snaps[:-1])
    last = model.apply(snaps[-1], dates(len(snaps))[-1])
    rows = model.batch_rows(last)
    crash_after = data.draw(st.integers(min_value=0, max_value=12), label="crash_after")
    crashing = Runtime(rt.settings, _dynamodb=CountingClient(runtime.dynamodb, crash_after))
    with contextlib.suppress(InjectedCrash):  # a crash point past the last write: no crash
        sync_rows(crashing, SPEC, last, rows, workers=1, chunk_size=3)
    sync_rows(rt, SPEC, last, rows)
    assert scan_all(runtime.dynamodb, rt.settings.dynamodb_table) == expected_table(model)


def test_sync_rows_same_batch_twice_is_idempotent(new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    ids = run_batches(rt, model, [{NDC: {"proprietary_name": "Prozac"}},
                                  {NDC: {"proprietary_name": "Prozac Weekly"}}])
    first = scan_all(rt.dynamodb, rt.settings.dynamodb_table)
    again = sync_rows(rt, SPEC, ids[-1], model.batch_rows(ids[-1]))
    assert again.conditional_skips == 0
    assert scan_all(rt.dynamodb, rt.settings.dynamodb_table) == first == expected_table(model)


@HYPO
@given(snaps=snapshots.filter(lambda s: len(s) >= 2), data=st.data())
def test_sync_rows_replay_of_older_batch_changes_nothing(
    new_runtime: Callable[..., Runtime], snaps: list[dict], data: st.DataObject
) -> None:
    """Replayed both with the rows the batch had when it ran and with its rows as they are now."""
    rt = new_runtime()
    model = Scd2Model(SPEC)
    rows_then: dict[str, list[dict]] = {}
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        rows_then[b] = model.batch_rows(b)
        sync_rows(rt, SPEC, b, rows_then[b])
    before = scan_all(rt.dynamodb, rt.settings.dynamodb_table)
    old = data.draw(st.sampled_from(model.batches[:-1]), label="replayed")
    sync_rows(rt, SPEC, old, rows_then[old])
    sync_rows(rt, SPEC, old, model.batch_rows(old))
    assert scan_all(rt.dynamodb, rt.settings.dynamodb_table) == before == expected_table(model)


def test_sync_rows_stale_replay_is_counted_and_leaves_no_tokens(
    new_runtime: Callable[..., Runtime],
) -> None:
    """A worker replaying batch 1's rows as read back then (before batch 2 restamped them)."""
    rt = new_runtime()
    model = Scd2Model(SPEC)
    b1 = model.apply({NDC: {"proprietary_name": "Prozac"}}, date(2025, 1, 3))
    rows_then = model.batch_rows(b1)
    sync_rows(rt, SPEC, b1, rows_then)
    b2 = model.apply({NDC: {"proprietary_name": "Advil"}}, date(2025, 1, 10))
    sync_rows(rt, SPEC, b2, model.batch_rows(b2))
    stats = sync_rows(rt, SPEC, b1, rows_then)
    assert stats.conditional_skips == 1 and stats.writes == 0
    sks = {sk for (_, sk) in scan_all(rt.dynamodb, rt.settings.dynamodb_table)}
    assert not any("prozac" in sk for sk in sks)


def test_sync_rows_reactivated_key_gets_fresh_current_and_keeps_history(
    new_runtime: Callable[..., Runtime],
) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    ids = run_batches(rt, model, [{NDC: {"proprietary_name": "Prozac"}}, {},
                                  {NDC: {"proprietary_name": "Prozac Weekly"}}])
    table = scan_all(rt.dynamodb, rt.settings.dynamodb_table)
    pk = f"ITEM#DRUG#{NDC}"
    current = table[(pk, "V#CURRENT")]
    assert current["is_current"] == {"BOOL": True}
    assert current["effective_from"]["S"] == "2025-01-17"
    assert current["last_ingestion_batch_id"]["S"] == ids[2]
    deleted = table[(pk, "V#2025-01-03")]
    assert deleted["effective_to"]["S"] == "2025-01-10" and deleted["is_current"] == {"BOOL": False}
    assert ("SEARCH#DRUG", f"token#weekly#proprietary_name#DRUG#{NDC}") in table
    assert table == expected_table(model)


def test_sync_rows_delete_keeps_last_version_as_current_without_tokens(
    new_runtime: Callable[..., Runtime],
) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    ids = run_batches(rt, model, [{NDC: {"proprietary_name": "Prozac"}}, {}])
    table = scan_all(rt.dynamodb, rt.settings.dynamodb_table)
    current = table[(f"ITEM#DRUG#{NDC}", "V#CURRENT")]
    assert current["is_current"] == {"BOOL": False}
    assert current["effective_to"]["S"] == "2025-01-10"
    assert current["last_ingestion_batch_id"]["S"] == ids[1]
    assert not [k for k in table if k[0] == "SEARCH#DRUG"]


def test_sync_rows_rows_of_another_batch_refused(new_runtime: Callable[..., Runtime]) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    b = model.apply({NDC: {"proprietary_name": "Prozac"}}, date(2025, 1, 3))
    with pytest.raises(PpstackError):
        sync_rows(rt, SPEC, "20250110T060000.000000Z", model.batch_rows(b))
