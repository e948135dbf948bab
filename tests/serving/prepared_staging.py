"""Test setup for the end-to-end serving test: a batch's staging written directly as Parquet.

The serving tests do not depend on the raw layer, so the pipeline's stage step is swapped for one
that writes the batch in exactly the layout and columns ``staging.<entity>_batch`` reads
(``staging/<ENTITY>/<batch_id>/part-*.parquet``, ``entities.spec.staging_columns``). Everything
after it (close, insert, sync, ledger, engine, Iceberg) is the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from scd2_model import fingerprint

from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, staging_columns
from ppstack.layout import batch_timestamp, staging_prefix
from ppstack.pipeline.steps import STAGE, BatchContext, Step
from ppstack.sql import render
from ppstack.sql.params import staging_ddl_params

ARROW = {"string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us")}

# A batch as the tests describe it: key -> the business values that differ from NULL.
Batch = Mapping[str, Mapping[str, Any]]


def bootstrap_staging(rt: Runtime, spec: EntitySpec) -> None:
    """The staging database and the stable staging table (the staging layer's own DDL)."""
    rt.engine.execute(render("ddl_database_staging", {"staging_db": "staging"}))
    rt.engine.execute(render("ddl_staging_batch", staging_ddl_params(spec, rt.settings.bucket)))


def write_staging(rt: Runtime, spec: EntitySpec, batch_id: str, ingest_date: str,
                  batch: Batch) -> int:
    """One Parquet file of the batch in the staging layout; returns the row count."""
    day = dt.date.fromisoformat(ingest_date)
    rows = []
    for key, values in sorted(batch.items()):
        row: dict[str, Any] = {c.name: None for c in staging_columns(spec)}
        row.update(values)
        row[spec.key] = key
        row.update(source_effective_date=day, source_file_date=day,
                   ingestion_timestamp=batch_timestamp(batch_id), ingestion_batch_id=batch_id,
                   fingerprint=fingerprint(spec, row), source_system="FDA_NDC")
        rows.append(row)
    schema = pa.schema([(c.name, ARROW[c.type]) for c in staging_columns(spec)])
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf)
    rt.store.put(staging_prefix(spec.name, batch_id) + "part-00000.parquet", buf.getvalue())
    return len(rows)


def staging_step(batch: Batch) -> Step:
    """A stage step that writes ``batch`` as this run's staging prefix (safe to repeat)."""

    def stage_prepared(ctx: BatchContext) -> dict[str, Any]:
        n = write_staging(ctx.rt, ctx.spec, ctx.batch_id, ctx.ingest_date, batch)
        return {"counts": {"read": n, "staged": n, "rejected": 0, "duplicates": 0}}

    return STAGE._replace(run=stage_prepared)
