"""Helpers of the SCD2 tests: staging written directly as Parquet, table reads, a reference model.

The tests here must not wait for the staging layer, so a batch's staging prefix is written with
pyarrow in exactly the layout and columns ``staging.<entity>_batch`` reads
(``staging/<ENTITY>/<batch_id>/part-*.parquet``, ``entities.spec.staging_columns``), and the stage
step of the pipeline is swapped for one that does that. Everything after it (close, insert,
ledger, lock, engine, Iceberg) is the real thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.entities.spec import OPEN_END, EntitySpec
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE, Step, replace_step
from staging_support import (  # noqa: F401 - re-exported for the SCD2 tests
    ARROW,
    Batch,
    bootstrap_staging,
    fingerprint,
    staging_step,
    text,
    write_staging,
)


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
        if r.get("opened_batch_id") is not None:
            r["opened_batch_id"] = dates_by_batch[r["opened_batch_id"]]
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
