"""The pipeline's Lambda entry points exist and parse the events the deployment sends them.

The work behind them (``ppstack.pipeline.aws_steps``, ``ppstack.serving.sync``) is tested where it
lives; here a stand-in module records the calls.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

from ppstack.errors import BadInput
from ppstack.pipeline import aws_handler

S3_EVENT = {
    "version": "0",
    "source": "aws.s3",
    "detail-type": "Object Created",
    "detail": {
        "bucket": {"name": "pp-archive"},
        "object": {"key": "raw/DRUG/FDA_NDC/2025-01-03/ndctext.zip", "size": 123},
    },
}
SCHEDULE_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event",
                  "time": "2025-01-03T06:00:00Z", "detail": {}}
STATE = {"entity": "DRUG", "source": "FDA_NDC", "ingest_date": "2025-01-03",
         "batch_id": "20250103T060012.123456Z", "ready": True}


def test_entry_points_exist() -> None:
    assert callable(aws_handler.step)
    assert callable(aws_handler.sync)


def test_parse_trigger_s3_object_created() -> None:
    trigger = aws_handler.parse_trigger(S3_EVENT)
    assert trigger == {"trigger": "object", "bucket": "pp-archive",
                       "key": "raw/DRUG/FDA_NDC/2025-01-03/ndctext.zip",
                       "entity": "DRUG", "source": "FDA_NDC", "ingest_date": "2025-01-03"}


def test_parse_trigger_manifest_created() -> None:
    key = "raw_tabular/DRUG/FDA_NDC/2025-01-03/_manifest.json"
    event = {**S3_EVENT, "detail": {"bucket": {"name": "b"}, "object": {"key": key}}}
    trigger = aws_handler.parse_trigger(event)
    assert (trigger["entity"], trigger["source"], trigger["ingest_date"]) == (
        "DRUG", "FDA_NDC", "2025-01-03")


def test_parse_trigger_schedule() -> None:
    assert aws_handler.parse_trigger(SCHEDULE_EVENT)["trigger"] == "schedule"


def test_parse_trigger_direct_normalises_names() -> None:
    trigger = aws_handler.parse_trigger({"entity": "drug", "source": "fda_ndc",
                                         "ingest_date": "2025-01-03"})
    assert (trigger["entity"], trigger["source"]) == ("DRUG", "FDA_NDC")


@pytest.mark.parametrize("key", [
    "raw_tabular/DRUG/FDA_NDC/2025-01-03/product/part-0.parquet",
    "raw/DRUG/FDA_NDC/2025-1-3/x.zip",
    "raw/DRUG/x.zip",
])
def test_parse_trigger_non_raw_key_is_refused(key: str) -> None:
    event = {**S3_EVENT, "detail": {"bucket": {"name": "b"}, "object": {"key": key}}}
    with pytest.raises(BadInput):
        aws_handler.parse_trigger(event)


def test_parse_trigger_direct_bad_date_is_refused() -> None:
    with pytest.raises(BadInput):
        aws_handler.parse_trigger({"entity": "DRUG", "source": "FDA_NDC",
                                   "ingest_date": "03/01/2025"})


def test_parse_step_unknown_action_is_refused() -> None:
    with pytest.raises(BadInput, match="unknown pipeline action"):
        aws_handler.parse_step({"action": "explode", "state": STATE})


def test_parse_step_advance_needs_batch_id() -> None:
    with pytest.raises(BadInput, match="batch_id"):
        aws_handler.parse_step({"action": "advance", "step": "stage", "state": {"entity": "DRUG"}})


def test_parse_step_advance_needs_known_step() -> None:
    with pytest.raises(BadInput, match="advance needs step"):
        aws_handler.parse_step({"action": "advance", "step": "synced", "state": STATE})


@pytest.fixture
def fake_pipeline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Stand-ins for ppstack.pipeline.run / ppstack.serving.sync that record their calls."""
    calls: list[tuple[Any, ...]] = []
    run = types.ModuleType("ppstack.pipeline.aws_steps")
    run.prepare_batch = lambda rt, e, s, d, accept_spec_change=False: (
        calls.append(("prepare_batch", e, s, d)) or {**STATE})
    run.prepare_pending = lambda rt: calls.append(("prepare_pending",)) or {"ready": False}
    run.advance = lambda rt, state, step: calls.append(("advance", step)) or state
    run.record_failure = lambda rt, state, error: calls.append(("record_failure", error)) or state
    monkeypatch.setattr(aws_handler, "_steps", lambda: run)
    monkeypatch.setattr(aws_handler, "_runtime", lambda: object())
    return calls


def test_step_prepare_from_s3_event_calls_prepare_batch(
        fake_pipeline: list[tuple[Any, ...]]) -> None:
    out = aws_handler.step({"action": "prepare", "state": S3_EVENT})
    assert fake_pipeline == [("prepare_batch", "DRUG", "FDA_NDC", "2025-01-03")]
    assert out["batch_id"] == STATE["batch_id"]


def test_step_prepare_from_schedule_sweeps_pending(fake_pipeline: list[tuple[Any, ...]]) -> None:
    assert aws_handler.step({"action": "prepare", "state": SCHEDULE_EVENT}) == {"ready": False}
    assert fake_pipeline == [("prepare_pending",)]


def test_step_advance_and_fail_pass_step_and_error(fake_pipeline: list[tuple[Any, ...]]) -> None:
    aws_handler.step({"action": "advance", "step": "close", "state": STATE})
    aws_handler.step({"action": "fail", "state": STATE, "error": {"Error": "Athena.X"}})
    assert fake_pipeline == [("advance", "close"), ("record_failure", {"Error": "Athena.X"})]


@pytest.fixture
def slices(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stand-in for serving.slices.sync_slice: done after the number of calls in ``plan``."""
    from ppstack.serving import slices as module

    plan = [{"calls": 0, "slices": 2}]

    def fake(rt: Any, entity: str, batch_id: str, *, time_left: Any) -> Any:
        plan[0]["calls"] += 1
        assert time_left() > 0
        done = plan[0]["calls"] >= plan[0]["slices"]
        return module.Checkpoint(entity, batch_id, "t", entities=plan[0]["calls"], total=2,
                                 invocations=plan[0]["calls"], done=done)

    monkeypatch.setattr(module, "sync_slice", fake)
    return plan


def test_sync_slices_until_done_then_advances_the_sync_step(
        fake_pipeline: list[tuple[Any, ...]], slices: list[dict[str, Any]]) -> None:
    first = aws_handler.sync({"state": STATE})
    assert first["sync_done"] is False and fake_pipeline == []  # nothing recorded yet
    assert first["sync_progress"] == {"entities": 1, "total": 2, "invocations": 1}
    out = aws_handler.sync({"state": first})
    assert out["sync_done"] is True
    assert fake_pipeline == [("advance", "sync")]
    assert out["batch_id"] == STATE["batch_id"]


def test_sync_bad_batch_id_is_refused(fake_pipeline: list[tuple[Any, ...]]) -> None:
    with pytest.raises(BadInput):
        aws_handler.sync({"state": {**STATE, "batch_id": "yesterday"}})
    assert fake_pipeline == []


def test_step_driver_is_the_real_module_with_every_function_the_handlers_call() -> None:
    steps = aws_handler._steps()
    for name in ("prepare_batch", "prepare_pending", "advance", "record_failure"):
        assert callable(getattr(steps, name)), name
