"""Schema evolution: a test-only DRUG spec with pharm_classes (PHARM_CLASSES) added.

The conformed table records the fields its fingerprints cover; a run with another spec is
refused before anything changes; both ways forward are taken end to end, through the API.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from replay_support import archive_date, conformed, scenario

from ppstack.api import config
from ppstack.api.handlers import entity_handlers
from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.entities.spec import Column
from ppstack.errors import Refused
from ppstack.pipeline.ledger import Ledger
from ppstack.pipeline.replay import replay
from ppstack.pipeline.run import run_batch
from ppstack.pipeline.spec_check import FINGERPRINT_PROPERTY
from ppstack.serving.reconcile import reconcile
from ppstack.settings import Settings, load_settings

D1, D2, D3 = "2019-04-29", "2019-04-30", "2019-05-01"
WITH_CLASSES = dataclasses.replace(DRUG, fields=DRUG.fields + (Column("pharm_classes"),))


def fresh(settings: Settings, home: Path) -> Runtime:
    return Runtime(load_settings(backend="local", home=str(home),
                                 dynamodb_endpoint=settings.dynamodb_endpoint,
                                 dynamodb_table=f"t-{uuid.uuid4().hex[:12]}"))


def api_get(rt: Runtime, ndc: str) -> tuple[dict, list[dict]]:
    """GET /drug/{ndc} and its history through the handlers built for the test-only spec."""
    handlers = entity_handlers(WITH_CLASSES)
    config.configure(table=rt.settings.dynamodb_table, client=rt.dynamodb)
    try:
        event = {"pathParameters": {"ndc": ndc}, "queryStringParameters": None,
                 "httpMethod": "GET", "headers": {}}
        current, versions = handlers.get(event, None), handlers.history(event, None)
    finally:
        config.reset()
    assert current["statusCode"] == 200 and versions["statusCode"] == 200
    return json.loads(current["body"]), json.loads(versions["body"])["versions"]


def with_classes(rt: Runtime) -> dict[str, str]:
    rows = rt.engine.execute("SELECT ndc, pharm_classes FROM conformed.drug "
                             "WHERE is_current AND pharm_classes IS NOT NULL").rows
    return {str(k): str(v) for k, v in rows}


@pytest.fixture
def applied(settings: Settings, sample_files: dict, tmp_path: Path):
    """D1 applied with the product spec; D2 and D3 archived."""
    scn = scenario(sample_files, tmp_path / "data", [D1, D2, D3])
    rt = fresh(settings, tmp_path / "home")
    for d in (D1, D2, D3):
        archive_date(rt, scn, d)
    run_batch(rt, DRUG, "FDA_NDC", D1)
    yield scn, rt
    rt.close()


def test_spec_change_refused_before_anything_changes(applied) -> None:
    _scn, rt = applied
    before, ledger = conformed(rt), Ledger(rt.store).list(DRUG.name)
    with pytest.raises(Refused) as refused:
        run_batch(rt, WITH_CLASSES, "FDA_NDC", D2)
    message = str(refused.value)
    assert "added pharm_classes" in message and "ppstack replay DRUG" in message
    assert f"ppstack run DRUG FDA_NDC --date {D2} --accept-spec-change" in message
    assert conformed(rt) == before and Ledger(rt.store).list(DRUG.name) == ledger


def test_accept_spec_change_records_the_changes_in_that_batch(applied) -> None:
    _scn, rt = applied
    record = run_batch(rt, WITH_CLASSES, "FDA_NDC", D2, accept_spec_change=True,
                       allow_mass_delete=True)
    assert record.state == "synced"
    assert any("spec change accepted (added pharm_classes)" in n for n in record.notes)
    classes = with_classes(rt)
    assert classes and record.counts["updated"] >= len(classes)
    props = rt.tables.properties("conformed", "drug")
    assert props[FINGERPRINT_PROPERTY].endswith(",pharm_classes")
    ndc, value = sorted(classes.items())[0]
    current, versions = api_get(rt, ndc)
    assert current["pharm_classes"] == value
    # the version before the change has no pharm_classes: it was not known then
    assert [v["pharm_classes"] for v in versions] == [None, value]
    assert [v["opened_batch_id"] for v in versions][-1] == record.batch_id
    assert reconcile(rt, WITH_CLASSES) == []
    # the next batch runs without the flag
    assert run_batch(rt, WITH_CLASSES, "FDA_NDC", D3, allow_mass_delete=True).state == "synced"


def test_replay_rebuilds_history_as_if_the_field_had_always_existed(
        applied, settings: Settings, tmp_path: Path) -> None:
    scn, rt = applied
    run_batch(rt, DRUG, "FDA_NDC", D2, allow_mass_delete=True)
    record = replay(rt, WITH_CLASSES, to_date=D2, allow_mass_delete=True)
    assert record.state == "synced"
    reference = fresh(settings, tmp_path / "always")
    try:
        for d in (D1, D2):
            archive_date(reference, scn, d)
            run_batch(reference, WITH_CLASSES, "FDA_NDC", d, allow_mass_delete=True)
        assert conformed(rt) == conformed(reference)
    finally:
        reference.close()
    assert reconcile(rt, WITH_CLASSES) == []
    ndc, value = sorted(with_classes(rt).items())[0]
    current, versions = api_get(rt, ndc)
    assert current["pharm_classes"] == value
    assert all(v["pharm_classes"] is not None for v in versions)  # from the first day on
    assert run_batch(rt, WITH_CLASSES, "FDA_NDC", D3, allow_mass_delete=True).state == "synced"


def test_staging_table_gains_the_new_field_with_a_pinned_probe(applied) -> None:
    """The staging table's columns are read with its partition key pinned: Athena refuses any
    query of an injected projection without a static equality on the key (and the refusal read
    as "no staging table", so the table never gained the field), and an unpinned read locally
    bound the files of every batch ever staged."""
    from ppstack.pipeline.spec_check import evolve_staging

    _scn, rt = applied
    sent: list[str] = []
    execute = rt.engine.execute

    def recording(sql: str, context=None):  # type: ignore[no-untyped-def]
        sent.append(sql)
        return execute(sql, context)

    rt.engine.execute = recording  # type: ignore[method-assign]
    try:
        assert evolve_staging(rt, WITH_CLASSES) == ["pharm_classes"]
        assert evolve_staging(rt, WITH_CLASSES) == []
    finally:
        rt.engine.execute = execute  # type: ignore[method-assign]
    probes = [s for s in sent if s.startswith("SELECT") and "staging.drug_batch" in s]
    assert len(probes) == 2
    assert all("WHERE ingestion_batch_id = 'none'" in s for s in probes)
    columns = rt.engine.execute("SELECT * FROM staging.drug_batch "
                                "WHERE ingestion_batch_id = 'none' LIMIT 0").columns
    assert "pharm_classes" in columns
