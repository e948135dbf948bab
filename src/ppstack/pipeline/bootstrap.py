"""The Glue databases and tables layers 1-2 of an entity read and write (idempotent DDL).

Every statement is ``IF NOT EXISTS``, so the stage step runs them before every batch: on a new
account they create ``raw`` / ``staging``, one raw table per source member (partition projection
on ``ingest_date``) and the stable ``staging.<entity>_batch`` / ``_rejects`` tables (injected
projection on ``ingestion_batch_id``); afterwards they change nothing. What the deployment
already created (on AWS: the Glue databases) is left out. The conformed Iceberg table belongs to
the SCD2 layer (``pipeline.steps.setup_statements``).
"""

from __future__ import annotations

from ppstack.entities import get_source
from ppstack.layout import RAW_NS, STAGING_NS
from ppstack.pipeline.batch import BatchParams, Statement
from ppstack.sql.params import raw_table_params


def bootstrap_statements(batch: BatchParams) -> list[Statement]:
    """In execution order: databases first, then raw tables, then the stable staging tables."""
    spec = batch.spec
    out = [batch.statement(name, None) for name in ("ddl_database_raw", "ddl_database_staging")
           if not batch.deployed(name)]
    for source_name in spec.sources:
        source = get_source(spec, source_name)
        for member in source.members:
            extra = raw_table_params(spec, source, member, batch.params["bucket"])
            out.append(batch.statement("ddl_table_raw", RAW_NS, **extra))
    out.append(batch.statement("ddl_staging_batch", STAGING_NS))
    out.append(batch.statement("ddl_staging_rejects", STAGING_NS))
    return out
