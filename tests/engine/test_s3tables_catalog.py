"""``S3TablesCatalog`` (boto3 only) against moto's S3 Tables: table properties are an Iceberg
metadata commit (a new ``metadata.json`` in the warehouse location, the previous one in
``metadata-log``, the pointer swapped with ``UpdateTableMetadataLocation``), and a commit made
from a stale ``versionToken`` is refused, as S3 Tables does.
ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_s3Buckets_UpdateTableMetadataLocation.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ppstack.engine.catalog import S3TablesCatalog
from ppstack.errors import EngineError
from ppstack.settings import load_settings

REGION = "us-east-1"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3TablesCatalog]:
    import boto3
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        tables = boto3.client("s3tables", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        arn = tables.create_table_bucket(name="pp-tables")["arn"]
        tables.create_namespace(tableBucketARN=arn, namespace=["conformed"])
        tables.create_table(tableBucketARN=arn, namespace="conformed", name="drug",
                            format="ICEBERG")
        pointer = tables.get_table_metadata_location(tableBucketARN=arn, namespace="conformed",
                                                     name="drug")
        bucket = pointer["warehouseLocation"].removeprefix("s3://").strip("/")
        first = {"format-version": 2, "last-updated-ms": 1, "properties": {"format": "parquet"}}
        s3.put_object(Bucket=bucket, Key="metadata/00000-a.metadata.json",
                      Body=json.dumps(first).encode())
        tables.update_table_metadata_location(
            tableBucketARN=arn, namespace="conformed", name="drug",
            versionToken=pointer["versionToken"],
            metadataLocation=f"s3://{bucket}/metadata/00000-a.metadata.json")
        settings = load_settings(backend="aws", region=REGION, table_bucket="pp-tables")
        yield S3TablesCatalog(settings, account=arn.split(":")[4])


def current(catalog: S3TablesCatalog) -> tuple[str, dict[str, Any]]:
    pointer, meta = catalog._metadata("conformed", "drug")
    return str(pointer["metadataLocation"]), meta


def test_properties_are_a_metadata_commit(catalog: S3TablesCatalog) -> None:
    assert catalog.properties("conformed", "drug") == {"format": "parquet"}
    before, _ = current(catalog)
    catalog.set_properties("conformed", "drug", {"ppstack.fingerprint-fields": "a,b"})
    after, meta = current(catalog)
    assert catalog.properties("conformed", "drug") == {
        "format": "parquet", "ppstack.fingerprint-fields": "a,b"}
    assert after != before and after.rsplit("/", 1)[1].startswith("00001-")
    assert after.endswith(".metadata.json")
    assert meta["metadata-log"] == [{"metadata-file": before, "timestamp-ms": 1}]
    assert meta["format-version"] == 2  # everything else of the metadata kept


def test_a_commit_from_a_stale_version_is_refused(catalog: S3TablesCatalog,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stale = catalog.client.get_table_metadata_location(
        tableBucketARN=catalog.bucket_arn, namespace="conformed", name="drug")
    catalog.set_properties("conformed", "drug", {"k": "1"})  # another writer commits first
    real = catalog.client.get_table_metadata_location
    monkeypatch.setattr(catalog.client, "get_table_metadata_location",
                        lambda **kw: {**real(**kw), "versionToken": stale["versionToken"]})
    with pytest.raises(EngineError, match="not committed"):
        catalog.set_properties("conformed", "drug", {"k": "2"})
    monkeypatch.undo()
    assert catalog.properties("conformed", "drug")["k"] == "1"


def test_promotion_renames_through_the_s3_tables_api(catalog: S3TablesCatalog) -> None:
    """``ppstack replay`` promotes with two RenameTable calls: the table keeps its metadata
    (and so its properties) under the new name.
    ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_s3TableBuckets_RenameTable.html"""
    catalog.set_properties("conformed", "drug", {"ppstack.fingerprint-fields": "a,b"})
    catalog.rename("conformed", "drug", "drug_replaced_x")
    assert not catalog.exists("conformed", "drug")
    assert catalog.exists("conformed", "drug_replaced_x")
    assert catalog.properties("conformed", "drug_replaced_x")["ppstack.fingerprint-fields"] == "a,b"
    with pytest.raises(EngineError, match="RenameTable"):
        catalog.rename("conformed", "missing", "drug")
