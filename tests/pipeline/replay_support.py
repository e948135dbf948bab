"""Helpers of the replay tests: small real deliveries, runs, and state without run-specific ids.

Deliveries come from the scenario generator over a cut of the bundled real extract (so every
layer is the real one: archive, renditions, staging SQL, SCD2 statements, DynamoDB); the
scenario records which keys are new, changed, gone or back on each date, written independently
of the pipeline, which is what the reference model below replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deliveries import cut
from ppstack.backends import Runtime
from ppstack.entities import DRUG, SOURCES
from ppstack.entities.spec import OPEN_END
from ppstack.raw.archive import archive
from ppstack.scenario import Scenario, derive_scenario
from ppstack.serving.keys import batches_pk
from ppstack.serving.reconcile import scan_entity

# Columns whose values name the run, not the data: two runs of the same deliveries differ there.
RUN_COLUMNS = ("ingestion_batch_id", "ingestion_timestamp", "opened_batch_id")
RUN_ATTRIBUTES = ("last_ingestion_batch_id", "opened_batch_id")


def scenario(sample_files: Mapping[str, Path], out: Path, dates: list[str], seed: int = 7,
             products: int = 30) -> Scenario:
    """Dated deliveries with new, changed, gone and reactivated drugs (no in-file duplicates,
    whose winner the model would have to guess)."""
    product, package = cut(dict(sample_files), out / "base", products)
    return derive_scenario(product, package, out / "scn", dates=dates, seed=seed,
                           new_share=0.05, change_share=0.08, disappear_share=0.05,
                           reactivate_share=0.3, duplicate_share=0.0)


def archive_date(rt: Runtime, scn: Scenario, date: str) -> None:
    archive(rt, DRUG, SOURCES["FDA_NDC"], list(scn.files(date)), date)


def conformed(rt: Runtime, table: str = "drug") -> list[tuple]:
    """The conformed rows without the run-specific columns, sorted (comparable across runs)."""
    rows = rt.engine.execute(f"SELECT * FROM conformed.{table}").dicts()
    out = []
    for r in rows:
        kept = {k: ("" if v is None else str(v)) for k, v in r.items() if k not in RUN_COLUMNS}
        out.append(tuple(sorted(kept.items())))
    return sorted(out)


def dynamodb_items(rt: Runtime) -> dict[tuple[str, str], dict[str, Any]]:
    """The DRUG items without the attributes that name the writing run; the change feed's batch
    ids (in its keys and items) are named by the date their batch applied, which two runs of
    the same deliveries share."""
    items = scan_entity(rt.dynamodb, rt.settings.dynamodb_table, DRUG)
    dates = {i["batch_id"]["S"]: i["effective_date"]["S"] for i in items.values()
             if i["PK"]["S"] == batches_pk(DRUG.name)}

    def named(text: str) -> str:
        for batch, date in dates.items():
            text = text.replace(batch, f"<batch of {date}>")
        return text

    return {(named(pk), named(sk)): {a: {t: named(v) if t == "S" else v for t, v in av.items()}
                                     for a, av in i.items()
                                     if a not in RUN_ATTRIBUTES and a != "synced_at"}
            for (pk, sk), i in items.items()}


def model_versions(scn: Scenario, dates: list[str]) -> dict[tuple[str, str], str]:
    """(ndc, active_from) -> active_to, from the scenario's own record of each date's changes.

    An independent statement of SCD2 over full snapshots: a key opens a version when it appears
    (new or back) or its recorded fields changed, and its open version closes when it changes or
    disappears.
    """
    versions: dict[tuple[str, str], str] = {}
    open_from: dict[str, str] = {}
    for date in sorted(dates):
        snap = scn.snapshot(date)
        changed = {c.ndc11 for c in snap.changed}
        for key, start in list(open_from.items()):
            if key not in snap.expected_keys or key in changed:
                versions[(key, start)] = date
                del open_from[key]
        for key in snap.expected_keys:
            if key not in open_from:
                open_from[key] = date
    for key, start in open_from.items():
        versions[(key, start)] = OPEN_END
    return versions


def table_versions(rt: Runtime) -> dict[tuple[str, str], str]:
    rows = rt.engine.execute("SELECT ndc, active_from, active_to FROM conformed.drug").rows
    return {(str(k), str(f)[:10]): str(t)[:10] for k, f, t in rows}
