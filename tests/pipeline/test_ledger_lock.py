"""Ledger records and the entity lock: conditional writes on the object store."""

from __future__ import annotations

import json

import pytest

from ppstack.errors import Locked, Refused
from ppstack.layout import lock_key
from ppstack.pipeline.ledger import BatchRecord, Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.settings import Settings
from ppstack.storage.local import LocalObjectStore


@pytest.fixture
def store(offline_settings: Settings) -> LocalObjectStore:
    return LocalObjectStore(offline_settings.home_path / "s3", offline_settings.bucket)


def record(batch_id: str = "20250101T000000.000000Z") -> BatchRecord:
    return BatchRecord(entity="DRUG", source="FDA_NDC", ingest_date="2025-01-01", batch_id=batch_id)


def test_ledger_create_then_load_round_trips(store: LocalObjectStore) -> None:
    ledger = Ledger(store)
    rec = ledger.create(record())
    rec.counts["staged"] = 5
    ledger.save(rec)
    loaded = ledger.load("DRUG", rec.batch_id)
    assert loaded.counts == {"staged": 5} and loaded.etag == rec.etag
    assert json.loads(store.get(f"batches/DRUG/{rec.batch_id}.json"))["state"] == "archived"


def test_ledger_create_twice_is_refused(store: LocalObjectStore) -> None:
    Ledger(store).create(record())
    with pytest.raises(Refused, match="already has a ledger record"):
        Ledger(store).create(record())


def test_ledger_save_with_stale_etag_is_refused(store: LocalObjectStore) -> None:
    ledger = Ledger(store)
    ledger.create(record())
    a, b = ledger.load("DRUG", record().batch_id), ledger.load("DRUG", record().batch_id)
    a.state = "staged"
    ledger.save(a)
    b.state = "failed"
    with pytest.raises(Refused, match="changed by another process"):
        ledger.save(b)


def test_ledger_list_is_ordered_by_batch_id(store: LocalObjectStore) -> None:
    ledger = Ledger(store)
    for bid in ("20250103T000000.000000Z", "20250101T000000.000000Z"):
        ledger.create(record(bid))
    assert [r.batch_id for r in ledger.list("DRUG")] == [
        "20250101T000000.000000Z", "20250103T000000.000000Z"]
    assert ledger.list("LABELER") == []


def test_lock_second_holder_is_locked_with_holder_named(store: LocalObjectStore) -> None:
    first = EntityLock(store, "DRUG", stale_seconds=3600).acquire()
    with pytest.raises(Locked, match=first.owner.replace(":", ".")):
        EntityLock(store, "DRUG", stale_seconds=3600).acquire()
    first.release()
    EntityLock(store, "DRUG", stale_seconds=3600).acquire().release()
    assert store.head(lock_key("DRUG")) is None


def test_lock_stale_is_taken_over_and_reported(store: LocalObjectStore) -> None:
    EntityLock(store, "DRUG", stale_seconds=3600).acquire()  # never released: a killed run
    taker = EntityLock(store, "DRUG", stale_seconds=0).acquire()
    assert taker.notes and "took over stale lock" in taker.notes[0]
    assert json.loads(store.get(lock_key("DRUG")))["owner"] == taker.owner


def test_lock_release_leaves_a_takeover_alone(store: LocalObjectStore) -> None:
    old = EntityLock(store, "DRUG", stale_seconds=3600).acquire()
    new = EntityLock(store, "DRUG", stale_seconds=0).acquire()
    old.release()
    assert json.loads(store.get(lock_key("DRUG")))["owner"] == new.owner


def test_lock_other_entity_is_independent(store: LocalObjectStore) -> None:
    EntityLock(store, "DRUG", stale_seconds=3600).acquire()
    EntityLock(store, "LABELER", stale_seconds=3600).acquire()
