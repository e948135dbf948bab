"""Create the Glue databases and tables layers 1-2 of an entity read and write (idempotent).

Every statement is ``IF NOT EXISTS``, so ``bootstrap`` is safe before every run: on a new
account it creates ``raw`` / ``staging``, one raw table per source member (partition projection
on ``ingest_date``) and the stable ``staging.<entity>_batch`` / ``_rejects`` tables (injected
projection on ``ingestion_batch_id``); afterwards it changes nothing. The conformed Iceberg table
belongs to the SCD2 layer (``pipeline.steps.ensure_conformed``).
"""

from __future__ import annotations

from ppstack.backends import Runtime
from ppstack.entities import get_source
from ppstack.entities.spec import EntitySpec
from ppstack.sql import render
from ppstack.sql.params import entity_params, raw_table_params, staging_ddl_params


def bootstrap_statements(rt: Runtime, spec: EntitySpec) -> list[tuple[str, str]]:
    """``(template, sql)`` in execution order: databases first, then raw tables, then staging."""
    bucket = rt.settings.bucket
    base = entity_params(spec, rt.engine, bucket)
    base.update(staging_ddl_params(spec, bucket))
    out = [
        ("ddl_database_raw", render("ddl_database_raw", base)),
        ("ddl_database_staging", render("ddl_database_staging", base)),
    ]
    for source_name in spec.sources:
        source = get_source(spec, source_name)
        for member in source.members:
            params = {**base, **raw_table_params(spec, source, member, bucket)}
            out.append(("ddl_table_raw", render("ddl_table_raw", params)))
    out.append(("ddl_staging_batch", render("ddl_staging_batch", base)))
    out.append(("ddl_staging_rejects", render("ddl_staging_rejects", base)))
    return out


def bootstrap(rt: Runtime, spec: EntitySpec) -> list[str]:
    """Run the database, raw and staging DDL of ``spec``; returns the templates run, in order."""
    ran = []
    for name, sql in bootstrap_statements(rt, spec):
        rt.engine.execute(sql)
        ran.append(name)
    return ran
