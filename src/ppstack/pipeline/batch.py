"""One batch's parameters, built once, and the statements its steps run.

``BatchParams`` is the frozen value every layer of a batch run receives: the entity spec, the
source, the ingest date, the batch id and the rendered template parameters. It is built once per
run (``BatchParams.build``) from the settings, so no layer resolves names or re-derives the
parameters again, and the local runner, the Step Functions driver and ``ppstack sql render``
all render from the same value.

``Statement`` is one SQL statement of a step with where it runs (``QueryContext``: catalog and
database, Athena's ``QueryExecutionContext``). The local runner executes it; on AWS the state
machine ships it to an Athena ``.sync`` task unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from ppstack.backends import TableRefs, catalog_for, created_by_deployment
from ppstack.engine.base import DEFAULT_CATALOG, QueryContext
from ppstack.entities import get_source
from ppstack.entities.spec import EntitySpec, Source
from ppstack.layout import check_batch_id, check_date
from ppstack.settings import Settings
from ppstack.sql import render
from ppstack.sql.params import (
    batch_params,
    conformed_table_params,
    entity_params,
    staging_ddl_params,
)


@dataclass(frozen=True)
class Statement:
    """One statement of a step: the template it comes from, its SQL and its context."""

    template: str
    sql: str
    context: QueryContext

    def to_state(self) -> dict[str, Any]:
        """The JSON the state machine carries; its Athena task reads ``sql``, ``catalog`` and
        ``database``. Only CREATE DATABASE has no database, and on AWS the deployment creates
        the databases, so every statement shipped there has one (tests/infra check it)."""
        return {"template": self.template, "sql": self.sql, "catalog": self.context.catalog,
                "database": self.context.database}

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> Statement:
        return cls(str(value["template"]), str(value["sql"]),
                   QueryContext(str(value["catalog"]), value.get("database")))


def context_for(backend: str, table_bucket: str, database: str | None) -> QueryContext:
    """The execution context of a statement working in ``database`` (None: no database, e.g.
    CREATE DATABASE): the database's catalog (``sql.params.catalog_for``) and the database."""
    catalog = catalog_for(backend, table_bucket, database) if database else DEFAULT_CATALOG
    return QueryContext(catalog, database)


@dataclass(frozen=True)
class BatchParams:
    """What identifies one batch and the template parameters of its statements (read-only)."""

    spec: EntitySpec
    source: Source
    ingest_date: str
    batch_id: str
    backend: str
    table_bucket: str
    params: Mapping[str, str]

    @classmethod
    def build(cls, settings: Settings, spec: EntitySpec, source: str | Source, ingest_date: str,
              batch_id: str) -> BatchParams:
        """Validate the date and batch id and render every parameter the batch's templates use:
        the entity's names (``sql.params.entity_params``), the stable staging DDL's and the
        batch's own values (``{{batch_id}}``, ``{{effective_date}}``, ``{{ingestion_timestamp}}``
        ... ; the timestamp is the instant encoded in the batch id, so a repeated step writes
        exactly the same values)."""
        check_date(ingest_date, "ingest date")
        check_batch_id(batch_id)
        src = source if isinstance(source, Source) else get_source(spec, source)
        bucket = settings.bucket
        params = entity_params(spec, TableRefs(settings.backend, settings.table_bucket), bucket)
        params.update(staging_ddl_params(spec, bucket))
        params.update(batch_params(spec, src, ingest_date, batch_id, bucket))
        return cls(spec=spec, source=src, ingest_date=ingest_date, batch_id=batch_id,
                   backend=settings.backend, table_bucket=settings.table_bucket,
                   params=MappingProxyType(params))

    def for_table(self, name: str) -> BatchParams:
        """The same batch writing another conformed table of the entity (``ppstack replay``
        runs the same statements against a new table): only ``{{conformed_table}}`` differs."""
        refs = TableRefs(self.backend, self.table_bucket)
        params = {**self.params, **conformed_table_params(refs, name)}
        return replace(self, params=MappingProxyType(params))

    def sql(self, template: str, **extra: str) -> str:
        """``template`` rendered with the batch's parameters (plus ``extra``)."""
        return render(template, {**self.params, **extra})

    def context(self, database: str | None) -> QueryContext:
        return context_for(self.backend, self.table_bucket, database)

    def statement(self, template: str, database: str | None, **extra: str) -> Statement:
        return Statement(template, self.sql(template, **extra), self.context(database))

    def deployed(self, template: str) -> bool:
        """Whether the deployment already created what ``template`` creates (then the pipeline
        leaves it out: on AWS, CloudFormation owns the Glue databases and the S3 Tables)."""
        return created_by_deployment(self.backend, template)
