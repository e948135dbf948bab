"""End to end with the real pipeline: staging (prepared Parquet) -> close MERGE -> insert ->
the pipeline's sync step, on the real local engine (DuckDB + pyiceberg) and dynalite; then
reconcile through the engine reports nothing and the ledger holds the write counts. Only the
stage step is swapped, for one writing the batch's staging Parquet
(``tests/staging_support.py``)."""

from __future__ import annotations

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.pipeline.run import run_batch
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE, SYNC, replace_step
from ppstack.serving.reconcile import reconcile
from staging_support import bootstrap_staging, staging_step

BATCHES = [
    ("2025-01-03", {"00000000001": {"proprietary_name": "Prozac", "labeler_name": "Eli Lilly"},
                    "00000000002": {"proprietary_name": "Advil"},
                    "00000000003": {"proprietary_name": "Tylenol"}}),
    ("2025-01-10",
     {"00000000001": {"proprietary_name": "Prozac Weekly", "labeler_name": "Eli Lilly"},
                    "00000000003": {"proprietary_name": "Tylenol"}}),
    ("2025-01-17",
     {"00000000001": {"proprietary_name": "Prozac Weekly", "labeler_name": "Eli Lilly"},
                    "00000000002": {"proprietary_name": "Advil Migraine"}}),
]


def test_pipeline_batches_then_reconcile_clean(runtime: Runtime) -> None:
    bootstrap_staging(runtime, DRUG)
    for day, batch in BATCHES:
        steps = replace_step((STAGE, CLOSE, INSERT, SYNC), "stage", staging_step(batch).run)
        record = run_batch(runtime, DRUG, "FDA_NDC", day, steps=steps, allow_mass_delete=True)
        assert record.state == "synced"
    assert reconcile(runtime, DRUG) == []
