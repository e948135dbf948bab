"""The table catalog port: what SQL cannot do to an Iceberg table on Athena.

Two things the pipeline needs are not SQL on Athena:

- **table properties**: Athena accepts only a fixed list of Iceberg table properties and no
  custom ones, so the fingerprint field list (``pipeline.spec_check``) is written through the
  Iceberg catalog instead.
  ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-alter-table-set-properties.html
- **renaming** (``ppstack replay`` promotes a rebuilt table): Athena does not support
  ``ALTER TABLE RENAME`` on S3 Tables; the S3 Tables API has ``RenameTable``.
  ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
  ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_s3TableBuckets_RenameTable.html

Implementations: ``LocalTableCatalog`` (the local engine's pyiceberg SQL catalog) and
``S3TablesCatalog`` (boto3 ``s3tables`` and ``s3`` only: it runs in the pipeline Lambdas).
``backends.make_tables`` picks one.
"""

from __future__ import annotations

from typing import Any, Protocol


class TableCatalog(Protocol):
    def exists(self, namespace: str, name: str) -> bool:
        """Whether the Iceberg table exists."""
        ...

    def rename(self, namespace: str, name: str, new_name: str) -> None:
        """Rename a table within its namespace; raises EngineError when it fails."""
        ...

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        """The table's Iceberg properties; raises EngineError when the table does not exist."""
        ...

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        """Set (add or replace) Iceberg properties in one metadata commit."""
        ...


class LocalTableCatalog:
    """The local engine's Iceberg catalog (the same one its SQL reads and writes)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def exists(self, namespace: str, name: str) -> bool:
        return bool(self.engine.iceberg.exists(namespace, name))

    def rename(self, namespace: str, name: str, new_name: str) -> None:
        self.engine.iceberg.rename(namespace, name, new_name)

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.engine.iceberg.properties(namespace, name))

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        self.engine.iceberg.set_properties(namespace, name, properties)


class S3TablesCatalog:
    """S3 Tables through boto3 alone (the pipeline Lambdas run the spec check and import nothing
    heavier): ``GetTable`` / ``RenameTable``, and table properties read from and committed to the
    table's Iceberg metadata file the way an Iceberg catalog client does it: read the current
    ``metadata.json`` (``GetTableMetadataLocation``, then S3 ``GetObject`` on the table's
    warehouse location), write a new one beside it with the properties changed and the old file
    appended to ``metadata-log`` (Iceberg table spec), then swap the pointer with
    ``UpdateTableMetadataLocation``, which refuses a stale ``versionToken`` (a commit in between).

    ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_s3Buckets_GetTableMetadataLocation.html
    ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_s3Buckets_UpdateTableMetadataLocation.html
    ref: https://iceberg.apache.org/spec/#table-metadata-fields
    S3 API reads and writes of a warehouse location are authorised as s3tables:GetTableData /
    PutTableData.
    ref: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3tables.html
    """

    def __init__(self, settings: Any, client: Any = None, account: str | None = None,
                 s3: Any = None) -> None:
        import boto3

        self.settings = settings
        self.client = client or boto3.client("s3tables", region_name=settings.region)
        self.s3 = s3 or boto3.client("s3", region_name=settings.region)
        self._account = account

    @property
    def bucket_arn(self) -> str:
        if self._account is None:
            import boto3

            sts = boto3.client("sts", region_name=self.settings.region)
            self._account = str(sts.get_caller_identity()["Account"])
        return (f"arn:aws:s3tables:{self.settings.region}:{self._account}:bucket/"
                f"{self.settings.table_bucket}")

    def exists(self, namespace: str, name: str) -> bool:
        try:
            self.client.get_table(tableBucketARN=self.bucket_arn, namespace=namespace, name=name)
        except self.client.exceptions.NotFoundException:
            return False
        return True

    def rename(self, namespace: str, name: str, new_name: str) -> None:
        from ppstack.errors import EngineError

        try:
            self.client.rename_table(tableBucketARN=self.bucket_arn, namespace=namespace,
                                     name=name, newName=new_name)
        except Exception as e:
            raise EngineError(f"S3 Tables RenameTable {namespace}.{name} -> {new_name} failed: "
                              f"{e}") from e

    def _metadata(self, namespace: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(GetTableMetadataLocation's answer, the current Iceberg metadata)."""
        import json

        from ppstack.errors import EngineError

        where = f"S3 Tables table {self.settings.table_bucket}/{namespace}.{name}"
        try:
            pointer = self.client.get_table_metadata_location(
                tableBucketARN=self.bucket_arn, namespace=namespace, name=name)
        except Exception as e:
            raise EngineError(f"{where}: GetTableMetadataLocation failed: {e}") from e
        location = pointer.get("metadataLocation")
        if not location:
            raise EngineError(f"{where} has no Iceberg metadata yet")
        bucket, key = _split_s3(location)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return pointer, json.loads(body)

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self._metadata(namespace, name)[1].get("properties") or {})

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        import json
        import time
        import uuid

        from ppstack.errors import EngineError

        pointer, meta = self._metadata(namespace, name)
        current = str(pointer["metadataLocation"])
        now = int(time.time() * 1000)
        meta = {**meta, "properties": {**(meta.get("properties") or {}), **properties},
                "last-updated-ms": now,
                "metadata-log": [*(meta.get("metadata-log") or []),
                                 {"metadata-file": current,
                                  "timestamp-ms": meta.get("last-updated-ms", now)}]}
        version = _metadata_version(current) + 1
        new = (f"{str(pointer['warehouseLocation']).rstrip('/')}/metadata/"
               f"{version:05d}-{uuid.uuid4()}.metadata.json")
        bucket, key = _split_s3(new)
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(meta).encode())
        try:
            self.client.update_table_metadata_location(
                tableBucketARN=self.bucket_arn, namespace=namespace, name=name,
                versionToken=pointer["versionToken"], metadataLocation=new)
        except Exception as e:
            raise EngineError(f"S3 Tables table {namespace}.{name}: properties not committed "
                              f"(another commit came first?), run the command again: {e}") from e


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _metadata_version(location: str) -> int:
    """The sequence number a metadata file's name starts with (``00003-<uuid>.metadata.json``);
    0 when it has none."""
    head = location.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(head) if head.isdigit() else 0
