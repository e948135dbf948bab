"""Helpers of the SCD2 tests: staging written directly as Parquet, table reads, a reference model.

The tests here must not wait for the staging layer, so a batch's staging prefix is written with
pyarrow in exactly the layout and columns ``staging.<entity>_batch`` reads
(``staging/<ENTITY>/<batch_id>/part-*.parquet``, ``entities.spec.staging_columns``), and the stage
step of the pipeline is swapped for one that does that. Everything after it (close, insert,
ledger, lock, engine, Iceberg) is the real thing.
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
from ppstack.entities.spec import OPEN_END, EntitySpec, staging_columns
from ppstack.layout import batch_timestamp, staging_prefix
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE, BatchContext, Step, replace_step
from ppstack.sql import render
from ppstack.sql.params import staging_ddl_params

ARROW = {"string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us")}

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
    """DESIGN.md's fingerprint, written independently in Python: md5 of '|'-joined field texts."""
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
    rt.store.put(staging_prefix(spec.name, batch_id) + "part-00000.parquet", buf.getvalue())
    return len(rows)


def staging_step(batch: Batch) -> Step:
    """A stage step that writes ``batch`` as this run's staging prefix (safe to repeat)."""

    def stage_prepared(ctx: BatchContext) -> dict[str, Any]:
        n = write_staging(ctx.rt, ctx.spec, ctx.batch_id, ctx.ingest_date, batch)
        return {"counts": {"read": n, "staged": n, "rejected": 0, "duplicates": 0}}

    return STAGE._replace(run=stage_prepared)


def prepared_steps(batch: Batch) -> tuple[Step, ...]:
    """stage (prepared Parquet) -> close -> insert: the real SCD2 steps, no DynamoDB."""
    return replace_step((STAGE, CLOSE, INSERT), "stage", staging_step(batch).run)


def table_rows(rt: Runtime, spec: EntitySpec = DRUG) -> list[dict[str, Any]]:
    try:
        return rt.engine.execute(f"SELECT * FROM conformed.{spec.conformed_table}").dicts()
    except Exception:
        return []  # the table does not exist yet


def snapshot_ids(rt: Runtime, spec: EntitySpec = DRUG) -> list[int]:
    try:
        return [s["snapshot_id"] for s in rt.engine.snapshots("conformed", spec.conformed_table)]
    except Exception:
        return []


def normalized(rows: list[dict[str, Any]], dates_by_batch: Mapping[str, str]) -> list[tuple]:
    """Rows with run-specific values replaced: batch id -> its ingest date, timestamp dropped.

    Two runs of the same batches get different batch ids (run timestamps), so "the same state"
    means equal up to that renaming.
    """
    out = []
    for r in rows:
        r = dict(r)
        r["ingestion_batch_id"] = dates_by_batch[r["ingestion_batch_id"]]
        r.pop("ingestion_timestamp")
        out.append(tuple(sorted((k, text(v)) for k, v in r.items())))
    return sorted(out)


class ReferenceModel:
    """SCD Type 2 written the plain Python way, independently of the SQL templates.

    ``versions[key]`` is the key's list of versions, oldest first; each is a dict with
    active_from, active_to, values and the ordinal of the batch that last touched it.
    """

    def __init__(self, spec: EntitySpec = DRUG) -> None:
        self.spec = spec
        self.versions: dict[str, list[dict[str, Any]]] = {}

    def apply(self, n: int, day: str, batch: Batch) -> None:
        for key, versions in self.versions.items():
            last = versions[-1]
            if last["active_to"] == OPEN_END and (
                key not in batch or dict(batch[key]) != last["values"]
            ):
                last["active_to"] = day
                last["batch"] = n
        for key, values in batch.items():
            versions = self.versions.setdefault(key, [])
            if not versions or versions[-1]["active_to"] != OPEN_END:
                versions.append({"active_from": day, "active_to": OPEN_END,
                                 "values": dict(values), "batch": n})

    def rows(self) -> set[tuple]:
        out = set()
        for key, versions in self.versions.items():
            for v in versions:
                values = {**v["values"], self.spec.key: key}
                out.add((key, v["active_from"], v["active_to"], v["active_to"] == OPEN_END,
                         tuple(text(values.get(c.name)) for c in self.spec.fields),
                         fingerprint(self.spec, values)))
        return out

    def touched(self, n: int) -> set[tuple[str, str, bool]]:
        return {(k, v["active_from"], v["active_to"] == OPEN_END)
                for k, vs in self.versions.items() for v in vs if v["batch"] == n}


def table_as_model_rows(rows: list[dict[str, Any]], spec: EntitySpec = DRUG) -> set[tuple]:
    return {(r[spec.key], text(r["active_from"]), text(r["active_to"]), bool(r["is_current"]),
             tuple(text(r[c.name]) for c in spec.fields), r["fingerprint"]) for r in rows}
