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
``S3TablesCatalog`` (boto3 ``s3tables`` for rename and existence, pyiceberg's REST client on the
S3 Tables Iceberg REST endpoint for properties). ``backends.make_tables`` picks one.
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
    """S3 Tables: ``RenameTable`` / ``GetTable`` through boto3, properties through the S3 Tables
    Iceberg REST endpoint (pyiceberg ``rest`` catalog, SigV4 signing name ``s3tables``).

    ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-integrating-open-source.html
    """

    def __init__(self, settings: Any, client: Any = None, account: str | None = None) -> None:
        import boto3

        self.settings = settings
        self.client = client or boto3.client("s3tables", region_name=settings.region)
        self._account = account
        self._rest: Any = None

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

    def rest(self) -> Any:
        """The pyiceberg REST catalog on the S3 Tables Iceberg REST endpoint (created once)."""
        if self._rest is None:
            from pyiceberg.catalog import load_catalog

            region = self.settings.region
            self._rest = load_catalog("s3tables", **{
                "type": "rest",
                "warehouse": self.bucket_arn,
                "uri": f"https://s3tables.{region}.amazonaws.com/iceberg",
                "rest.sigv4-enabled": "true",
                "rest.signing-name": "s3tables",
                "rest.signing-region": region,
            })
        return self._rest

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.rest().load_table((namespace, name)).properties)

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        with self.rest().load_table((namespace, name)).transaction() as tx:
            tx.set_properties(properties)
