"""The only place that picks local or AWS implementations (docs/architecture.md#one-code-path-two-backends).

Everything else receives a ``Runtime`` and calls the ports on it. Heavy modules (DuckDB,
pyiceberg, the dynalite launcher) are imported lazily, when first used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ppstack.engine.base import SqlEngine
from ppstack.settings import Settings, load_settings
from ppstack.storage.base import ObjectStore

# What the AWS deployment (infra/, CloudFormation) creates itself: the Glue databases raw and
# staging, the S3 Tables namespace and the conformed tables (with snapshot settings DDL cannot
# give). On AWS the pipeline does not create them again; locally the same templates create them.
DEPLOYED_TEMPLATES = frozenset({"ddl_database_raw", "ddl_database_staging", "ddl_conformed"})


def created_by_deployment(backend: str, template: str) -> bool:
    """Whether ``template``'s object already exists on ``backend`` before any run."""
    return backend == "aws" and template in DEPLOYED_TEMPLATES


def make_store(settings: Settings) -> ObjectStore:
    if settings.backend == "aws":
        from ppstack.storage.s3 import S3ObjectStore

        return S3ObjectStore(settings.bucket, region=settings.region)
    from ppstack.storage.local import LocalObjectStore

    return LocalObjectStore(settings.home_path / "s3", settings.bucket)


def make_engine(settings: Settings) -> SqlEngine:
    if settings.backend == "aws":
        from ppstack.engine.athena import AthenaEngine

        return AthenaEngine(settings)
    from ppstack.engine.local import LocalEngine

    return LocalEngine(settings)


def dynamodb_endpoint(settings: Settings) -> str | None:
    """Endpoint URL for boto3; ``None`` means the AWS default endpoint."""
    if settings.dynamodb_endpoint:
        return settings.dynamodb_endpoint
    if settings.backend == "aws":
        return None
    from ppstack.serving.dynalite import ensure_running

    return ensure_running(settings)


def make_dynamodb(settings: Settings) -> Any:
    """A low-level boto3 DynamoDB client for the configured endpoint (starting the local
    DynamoDB server when the local backend has no explicit endpoint)."""
    from ppstack.serving.client import make_client

    return make_client(settings.region, dynamodb_endpoint(settings),
                       local=settings.backend != "aws")


@dataclass
class Runtime:
    """The ports one command works with, created on first use."""

    settings: Settings
    _store: ObjectStore | None = field(default=None, repr=False)
    _engine: SqlEngine | None = field(default=None, repr=False)
    _dynamodb: Any = field(default=None, repr=False)

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
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = make_dynamodb(self.settings)
        return self._dynamodb

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_runtime(settings: Settings | None = None, **overrides: str | None) -> Runtime:
    return Runtime(settings or load_settings(**overrides))
