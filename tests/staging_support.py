"""Staging written directly as Parquet, for tests of the layers after staging.

SCD2 and serving tests must not depend on the raw and staging layers, so a batch's staging prefix
is written with pyarrow in exactly the layout and columns ``staging.<entity>_batch`` reads
(``staging/<ENTITY>/<batch_id>/part-*.parquet``, ``entities.spec.staging_columns``), and the
pipeline's stage step is swapped for one that does that. Everything after it (close, insert,
sync, ledger, lock, engine, Iceberg) is the real thing. Importable from every test folder:
pytest puts ``tests/`` on ``sys.path`` for the root conftest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.entities.spec import EntitySpec, staging_columns
from ppstack.layout import batch_timestamp, staged_prefix
from ppstack.pipeline.steps import STAGE, BatchContext, Step
from ppstack.sql import render
from ppstack.sql.params import staging_ddl_params

ARROW = {"string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
         "bigint": pa.int64()}

# A batch as the tests describe it: key -> the business values that differ from NULL.
Batch = Mapping[str, Mapping[str, Any]]


def bootstrap_staging(rt: Runtime, spec: EntitySpec = DRUG) -> None:
    """The staging database and the stable staging table (the staging layer's own DDL)."""
    rt.engine.execute(render("ddl_database_staging", {"staging_db": "staging"}))
    rt.engine.execute(render("ddl_staging_batch", staging_ddl_params(spec, rt.settings.bucket)))


def text(value: Any) -> str:
    """A value's text inside the fingerprint: dates ``YYYY-MM-DD``, NULL -> ''."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def fingerprint(spec: EntitySpec, values: Mapping[str, Any]) -> str:
    """The fingerprint of docs/data-rules.md#staging, written independently in Python: md5 of
    '|'-joined field texts."""
    joined = "|".join(text(values.get(c.name)) for c in spec.fields)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


def write_staging(rt: Runtime, spec: EntitySpec, batch_id: str, ingest_date: str,
                  batch: Batch) -> int:
    """One Parquet file of the batch in the staging layout; returns the row count."""
    rows = []
    for key, values in sorted(batch.items()):
        row: dict[str, Any] = {c.name: None for c in staging_columns(spec)}
        row.update(values)
        row[spec.key] = key
        row.update(
            source_effective_date=dt.date.fromisoformat(ingest_date),
            source_file_date=dt.date.fromisoformat(ingest_date),
            ingestion_timestamp=batch_timestamp(batch_id),
            ingestion_batch_id=batch_id,
            fingerprint=fingerprint(spec, row),
            source_system="FDA_NDC",
        )
        rows.append(row)
    schema = pa.schema([(c.name, ARROW[c.type]) for c in staging_columns(spec)])
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf)
    rt.store.put(staged_prefix(spec.name, batch_id) + "part-00000.parquet", buf.getvalue())
    return len(rows)


def staging_step(batch: Batch) -> Step:
    """A stage step that writes ``batch`` as this run's staging prefix (safe to repeat)."""

    def stage_prepared(ctx: BatchContext) -> dict[str, Any]:
        n = write_staging(ctx.rt, ctx.spec, ctx.batch_id, ctx.ingest_date, batch)
        return {"counts": {"read": n, "staged": n, "rejected": 0, "duplicates": 0}}

    return STAGE._replace(run=stage_prepared)
