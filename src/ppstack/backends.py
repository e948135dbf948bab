"""The only place that picks local or AWS implementations.

See docs/architecture.md#one-code-path-two-backends.

Everything else receives a ``Runtime`` and calls the ports on it. Heavy modules (DuckDB,
pyiceberg, the dynalite launcher) are imported lazily, when first used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ppstack.engine.base import DEFAULT_CATALOG, SqlEngine
from ppstack.layout import CONFORMED_NS
from ppstack.settings import Settings, load_settings
from ppstack.storage.base import ObjectStore

# What the AWS deployment (infra/, CloudFormation) creates itself: the Glue databases raw and
# staging, the S3 Tables namespace and the conformed tables (with snapshot settings DDL cannot
# give). On AWS the pipeline does not create them again; locally the same templates create them.
DEPLOYED_TEMPLATES = frozenset({"ddl_database_raw", "ddl_database_staging", "ddl_conformed"})


def created_by_deployment(backend: str, template: str) -> bool:
    """Whether ``template``'s object already exists on ``backend`` before any run."""
    return backend == "aws" and template in DEPLOYED_TEMPLATES


# ---- naming: how each backend names a table, usable without connecting -------------------

def table_ref_for(backend: str, table_bucket: str, namespace: str, table: str) -> str:
    """How SQL names a table, without constructing (or connecting) an engine.

    Used by ``ppstack sql render``; it is the same rule as ``AthenaEngine.table_ref``: the
    conformed namespace lives in the S3 Tables federated catalog on AWS, whose name contains a
    slash and must be quoted; raw/staging are databases of the default Glue catalog.
    ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
    """
    if backend == "aws" and namespace == CONFORMED_NS:
        return f'"s3tablescatalog/{table_bucket}"."{namespace}"."{table}"'
    return f"{namespace}.{table}"


def catalog_for(backend: str, table_bucket: str, namespace: str) -> str:
    """The catalog a namespace lives in: on AWS the conformed namespace is in the S3 Tables
    federated catalog ``s3tablescatalog/<table bucket>``, raw and staging in the account's
    default Glue catalog (the local engine has one catalog and is given the same names).
    ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
    """
    if backend == "aws" and namespace == CONFORMED_NS:
        return f"s3tablescatalog/{table_bucket}"
    return DEFAULT_CATALOG


class TableRefs:
    """``table_ref`` of a backend without an engine: rendering needs no AWS access or catalog."""

    def __init__(self, backend: str, table_bucket: str) -> None:
        self.backend = backend
        self.table_bucket = table_bucket

    def table_ref(self, namespace: str, table: str) -> str:
        return table_ref_for(self.backend, self.table_bucket, namespace, table)


# ---- the ports -------------------------------------------------------------------------------

def make_store(settings: Settings) -> ObjectStore:
    if settings.backend == "aws":
        from ppstack.storage.s3 import S3ObjectStore

        return S3ObjectStore(settings.bucket, region=settings.region,
                             retain_days=settings.raw_retention_days)
    from ppstack.storage.local import LocalObjectStore

    return LocalObjectStore(settings.home_path / "s3", settings.bucket)


def make_engine(settings: Settings) -> SqlEngine:
    if settings.backend == "aws":
        from ppstack.engine.athena import AthenaEngine

        return AthenaEngine(settings)
    from ppstack.engine.local import LocalEngine

    return LocalEngine(settings)


def make_tables(settings: Settings, engine: SqlEngine) -> Any:
    """The table catalog port (``engine.catalog``): renames and Iceberg table properties."""
    if settings.backend == "aws":
        from ppstack.engine.catalog import S3TablesCatalog

        return S3TablesCatalog(settings)
    from ppstack.engine.catalog import LocalTableCatalog

    return LocalTableCatalog(engine)


def uses_local_server(settings: Settings) -> bool:
    """Whether DynamoDB is this home's own local server (dynalite), started on demand."""
    return settings.backend != "aws" and not settings.dynamodb_endpoint


def make_dynamodb(settings: Settings, endpoint: str | None = None) -> Any:
    """A low-level boto3 DynamoDB client for ``endpoint``, else the configured one (``None``:
    the AWS endpoint of the region)."""
    from ppstack.serving.client import make_client

    return make_client(settings.region, endpoint or settings.dynamodb_endpoint or None,
                       local=settings.backend != "aws")


def paces_writes(settings: Settings) -> bool:
    """Whether DynamoDB writes are paced per partition key (``serving.pace``): on AWS, where a
    partition takes at most 1,000 write units per second; dynalite has no such limit, and
    pacing it would only slow the local sync down.
    ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
    """
    return settings.backend == "aws"


@dataclass
class Runtime:
    """The ports one command works with, created on first use."""

    settings: Settings
    _store: ObjectStore | None = field(default=None, repr=False)
    _engine: SqlEngine | None = field(default=None, repr=False)
    _dynamodb: Any = field(default=None, repr=False)
    _lease: Any = field(default=None, repr=False)  # serving.dynalite.Lease of the local server
    _tables: Any = field(default=None, repr=False)

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = make_store(self.settings)
        return self._store

    @property
    def engine(self) -> SqlEngine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def tables(self) -> Any:
        """``engine.catalog.TableCatalog``: renames and table properties the SQL cannot do."""
        if self._tables is None:
            self._tables = make_tables(self.settings, self.engine)
        return self._tables

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            endpoint = None
            if uses_local_server(self.settings):
                from ppstack.serving import dynalite

                self._lease = dynalite.lease(self.settings)
                endpoint = self._lease.url
            self._dynamodb = make_dynamodb(self.settings, endpoint)
        return self._dynamodb

    @property
    def dynamodb_url(self) -> str:
        """Where DynamoDB is, for messages: the endpoint URL, or "AWS"."""
        self.dynamodb  # noqa: B018 - connect first, so a local server has its URL
        return self._lease.url if self._lease else self.settings.dynamodb_endpoint or "AWS"

    def close(self) -> None:
        """Close the engine and leave the local DynamoDB server (stopped if this command was
        its last user and a command started it: see ``serving.dynalite``)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._lease is not None:
            self._dynamodb = None
            lease, self._lease = self._lease, None
            lease.release()
        self._tables = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_runtime(settings: Settings | None = None, **overrides: str | None) -> Runtime:
    return Runtime(settings or load_settings(**overrides))
