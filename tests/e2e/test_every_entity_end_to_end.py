"""Every declared entity type goes through every layer with no code of its own.

Three dated deliveries derived from the bundled real extract run archive -> stage -> close ->
insert -> sync for each entity in ``ENTITIES``; after every batch the SCD2 invariants hold and
DynamoDB equals the projection of the conformed table (``reconcile`` finds nothing). Adding an
entity type (a spec and its staging template) is covered by this test automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ppstack.backends import Runtime
from ppstack.entities import ENTITIES, get_source
from ppstack.pipeline.invariants import check_invariants
from ppstack.pipeline.run import run_batch
from ppstack.raw.archive import archive
from ppstack.scenario import derive_scenario
from ppstack.serving.reconcile import reconcile
from ppstack.settings import Settings

DATES = ["2019-04-29", "2019-04-30", "2019-05-01"]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_entity_flows_through_every_layer(entity: str, settings: Settings,
                                          sample_files: dict[str, Path], tmp_path: Path) -> None:
    spec = ENTITIES[entity]
    scenario = derive_scenario(sample_files["product"], sample_files["package"], tmp_path / "scn",
                               dates=DATES, seed=11, new_share=0.01, change_share=0.02,
                               disappear_share=0.01, reactivate_share=0.01, duplicate_share=0.005)
    rt = Runtime(settings)
    table = f"conformed.{spec.conformed_table}"
    before: list[dict] = []
    try:
        for date in DATES:
            files = list(scenario.files(date))
            for source in spec.sources:
                archive(rt, spec, get_source(spec, source), files, date)
                record = run_batch(rt, spec, source, date)
                assert record.state == "synced", record
            after = rt.engine.execute(f"SELECT * FROM {table}").dicts()
            check_invariants(before, after, spec.key)
            assert reconcile(rt, spec) == []
            touched = rt.engine.execute(
                f"SELECT count(*) FROM {table} WHERE ingestion_batch_id = '{record.batch_id}'"
            ).scalar()
            counts = record.counts
            # every row the batch touched carries its id: closed (updated + deleted) + opened
            assert touched == 2 * counts["updated"] + counts["deleted"] + counts["inserted"]
            before = after
        current = rt.engine.execute(f"SELECT count(*) FROM {table} WHERE is_current").scalar()
        assert current == counts["staged"]
    finally:
        rt.close()
