"""One behaviour suite for every object store: the local directory and S3 (moto).

The archive's write-once rule, the ledger's compare-and-swap and the run lock all rest on these
semantics, so both implementations must agree on every one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ppstack.errors import NotFound
from ppstack.storage.base import ObjectStore, PreconditionFailed
from ppstack.storage.local import LocalObjectStore

BUCKET = "pp-archive"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path, BUCKET)
        return
    import boto3
    from moto import mock_aws

    from ppstack.storage.s3 import S3ObjectStore

    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        # Retention asked for, on a bucket without Object Lock: the store writes plainly.
        yield S3ObjectStore(BUCKET, client=client, retain_days=365)


def test_store_put_get_head_roundtrip(store: ObjectStore) -> None:
    etag = store.put("raw/DRUG/FDA_NDC/2019-04-29/product.txt", b"abc")
    assert store.get("raw/DRUG/FDA_NDC/2019-04-29/product.txt") == b"abc"
    info = store.head("raw/DRUG/FDA_NDC/2019-04-29/product.txt")
    assert info is not None and info.size == 3 and info.etag == etag


def test_store_if_none_match_refuses_an_existing_key(store: ObjectStore) -> None:
    """S3 answers If-None-Match: * on an existing key with 412; both stores raise the same."""
    store.put("raw/x.txt", b"first", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("raw/x.txt", b"second", if_none_match=True)
    assert store.get("raw/x.txt") == b"first"


def test_store_if_match_is_compare_and_swap(store: ObjectStore) -> None:
    etag = store.put("batches/DRUG/b.json", b"v1")
    store.put("batches/DRUG/b.json", b"v2", if_match=etag)
    with pytest.raises(PreconditionFailed):
        store.put("batches/DRUG/b.json", b"v3", if_match=etag)  # stale ETag
    assert store.get("batches/DRUG/b.json") == b"v2"


def test_store_missing_key(store: ObjectStore) -> None:
    assert store.head("nope") is None
    with pytest.raises(NotFound):
        store.get("nope")


def test_store_list_is_sorted_and_prefix_exact(store: ObjectStore) -> None:
    for key in ("staging/DRUG/b2/part-0.parquet", "staging/DRUG/b1/part-0.parquet",
                "staging/DRUGX/b1/part-0.parquet", "raw/other"):
        store.put(key, b"x")
    assert store.list("staging/DRUG/") == [
        "staging/DRUG/b1/part-0.parquet", "staging/DRUG/b2/part-0.parquet"
    ]
    assert store.list("missing/") == []


def test_store_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("locks/DRUG.lock", b"x")
    store.delete("locks/DRUG.lock")
    store.delete("locks/DRUG.lock")
    assert store.head("locks/DRUG.lock") is None


def test_store_uri(store: ObjectStore) -> None:
    assert store.uri("raw/a.txt") == f"s3://{BUCKET}/raw/a.txt"


def test_s3_store_locks_archive_objects_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Object Lock on the bucket and no default retention, raw/ and raw_tabular/ objects
    get governance retention; staging, ledger and lock objects stay deletable."""
    import boto3
    from moto import mock_aws

    from ppstack.storage.s3 import S3ObjectStore

    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        store = S3ObjectStore(BUCKET, client=client, retain_days=30)
        for key in ("raw/DRUG/FDA_NDC/2019-04-29/ndctext.zip",
                    "raw_tabular/DRUG/FDA_NDC/2019-04-29/_manifest.json",
                    "locks/DRUG.lock", "staging/DRUG/b/part.parquet"):
            store.put(key, b"x", if_none_match=True)
        locked = {k: client.head_object(Bucket=BUCKET, Key=k).get("ObjectLockMode")
                  for k in store.list("")}
        assert locked == {"raw/DRUG/FDA_NDC/2019-04-29/ndctext.zip": "GOVERNANCE",
                          "raw_tabular/DRUG/FDA_NDC/2019-04-29/_manifest.json": "GOVERNANCE",
                          "locks/DRUG.lock": None, "staging/DRUG/b/part.parquet": None}
