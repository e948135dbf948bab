"""pipeline.stage on the bundled real extract, through the local engine (archive -> stage)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppstack.backends import Runtime
from ppstack.entities import DRUG, LABELER, SOURCES
from ppstack.errors import BadInput, Refused
from ppstack.pipeline.stage import StageResult, stage
from ppstack.raw.archive import archive
from ppstack.settings import load_settings

DATE = "2019-04-29"
BATCH = "20190429T060000.000000Z"
FDA = SOURCES["FDA_NDC"]


def _runtime(home: Path) -> Runtime:
    return Runtime(load_settings(backend="local", home=str(home),
                                 dynamodb_endpoint="http://127.0.0.1:9"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, sample_files: dict[str, Path]
           ) -> Iterator[tuple[Runtime, StageResult]]:
    """The bundled extract archived and staged once for the module (DRUG)."""
    rt = _runtime(tmp_path_factory.mktemp("stage-home"))
    archive(rt, DRUG, FDA, [sample_files["product"], sample_files["package"]], DATE)
    result = stage(rt, DRUG, "FDA_NDC", DATE, BATCH)
    yield rt, result
    rt.close()


def _batch(rt: Runtime, where: str = "") -> list[dict]:
    sql = f"SELECT * FROM staging.drug_batch WHERE ingestion_batch_id = '{BATCH}' {where}"
    return rt.engine.execute(sql).dicts()


def test_stage_sample_one_row_per_ndc(staged: tuple[Runtime, StageResult]) -> None:
    rt, result = staged
    rows = _batch(rt)
    assert len(rows) == result.staged > 0
    assert len({r["ndc"] for r in rows}) == len(rows)
    assert all(len(r["ndc"]) == 11 and r["ndc"].isdigit() for r in rows)


def test_stage_sample_counts_add_up(staged: tuple[Runtime, StageResult]) -> None:
    _rt, r = staged
    assert r.rows_read == 2934  # package rows of the bundled extract
    assert r.rows_read == r.staged + r.duplicates + r.rejected + r.excluded
    assert r.excluded > 0


def test_stage_sample_lineage_columns(staged: tuple[Runtime, StageResult]) -> None:
    rt, _r = staged
    row = _batch(rt, "LIMIT 1")[0]
    assert str(row["source_effective_date"]) == DATE
    assert str(row["source_file_date"]) == DATE
    assert row["ingestion_batch_id"] == BATCH
    assert row["source_system"] == "FDA_NDC"
    assert row["ingestion_timestamp"].isoformat() == "2019-04-29T06:00:00"


def _python_fingerprint(row: dict) -> str:
    values = []
    for name in DRUG.field_names:
        v = row[name]
        values.append("" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v)))
    return hashlib.md5("|".join(values).encode("utf-8")).hexdigest()


def test_stage_strattera_fields_and_fingerprint(staged: tuple[Runtime, StageResult]) -> None:
    rt, _r = staged
    [row] = _batch(rt, "AND ndc = '00002322730'")
    assert row["proprietary_name"] == "Strattera"
    assert row["strength"] == "10 mg/1"
    assert row["route"] == "ORAL"
    assert row["ingredient_list"] == "ATOMOXETINE HYDROCHLORIDE"
    assert row["package_ndc"] == "0002-3227-30"
    # trailing space trimmed
    assert row["package_description"] == "30 CAPSULE in 1 BOTTLE (0002-3227-30)"
    assert row["dea_schedule"] is None  # '' -> NULL
    assert str(row["marketing_start_date"]) == "2002-11-26"
    assert row["fingerprint"] == _python_fingerprint(row)


def test_stage_every_fingerprint_equals_python_md5(staged: tuple[Runtime, StageResult]) -> None:
    rt, _r = staged
    rows = _batch(rt)
    assert all(r["fingerprint"] == _python_fingerprint(r) for r in rows)


def test_stage_rerun_same_batch_is_noop(staged: tuple[Runtime, StageResult]) -> None:
    rt, first = staged
    files_before = rt.store.list(f"staging/DRUG/{BATCH}/")
    again = stage(rt, DRUG, "FDA_NDC", DATE, BATCH)
    assert again.skipped == ["rejects", "batch"]
    assert rt.store.list(f"staging/DRUG/{BATCH}/") == files_before
    assert (again.staged, again.rejected, again.duplicates) == (first.staged, first.rejected,
                                                                first.duplicates)


def test_stage_ctas_tables_dropped(staged: tuple[Runtime, StageResult]) -> None:
    rt, _r = staged
    tables = {row[0] for row in rt.engine.execute("SHOW TABLES IN staging").rows}
    assert tables == {"drug_batch", "drug_rejects"}


def test_stage_batch_id_of_other_date_refused(staged: tuple[Runtime, StageResult]) -> None:
    rt, _r = staged
    archive_dir = rt.store.list("raw/DRUG/FDA_NDC/2019-04-29/")
    assert archive_dir
    with pytest.raises((Refused, BadInput)):
        stage(rt, DRUG, "FDA_NDC", "2019-04-30", BATCH)


def test_stage_nothing_archived_refused(offline_settings) -> None:
    rt = Runtime(offline_settings)
    try:
        with pytest.raises(BadInput, match="nothing archived"):
            stage(rt, DRUG, "FDA_NDC", "2019-05-01", BATCH)
        assert rt.store.list("staging/") == []
    finally:
        rt.close()


def test_stage_labeler_on_sample(staged: tuple[Runtime, StageResult],
                                 sample_files: dict[str, Path]) -> None:
    rt, _r = staged
    archive(rt, LABELER, FDA, [sample_files["product"], sample_files["package"]], DATE)
    result = stage(rt, LABELER, "FDA_NDC", DATE, BATCH)
    rows = rt.engine.execute(
        f"SELECT * FROM staging.labeler_batch WHERE ingestion_batch_id = '{BATCH}'").dicts()
    assert len(rows) == result.staged == len({r["labeler_code"] for r in rows}) > 0
    assert all(len(r["labeler_code"]) == 5 and r["labeler_code"].isdigit() for r in rows)
    lilly = [r for r in rows if r["labeler_code"] == "00002"]
    assert lilly and lilly[0]["labeler_name"] == "Eli Lilly and Company"
    assert int(lilly[0]["product_count"]) > 0
    assert result.rows_read == result.extra["aggregated"] + result.rejected + result.excluded


# ---- rejects and duplicates: the real extract plus a few crafted package rows ----

EXTRA_PACKAGES = [
    # PRODUCTID, PRODUCTNDC, NDCPACKAGECODE, description, start, end, flag, sample
    ("0002-9999_no-such-product", "0002-9999", "0002-9999-01", "x", "20190101", "", "N", "N"),
    ("{strattera}", "0002-3227", "0002-3227-3O", "letter O", "20190101", "", "N", "N"),
    ("{strattera}", "0002-3227", "0002-9999-30", "other product", "20190101", "", "N", "N"),
    ("{strattera}", "0002-3227", "0002-3227-30", "listed twice", "20190101", "", "N", "N"),
]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory, sample_files: dict[str, Path]
            ) -> Iterator[tuple[Runtime, StageResult]]:
    work = tmp_path_factory.mktemp("crafted")
    product = sample_files["product"].read_bytes()
    strattera = next(line.split(b"\t")[0].decode() for line in product.split(b"\r\n")
                     if b"\t0002-3227\t" in line)
    package = sample_files["package"].read_bytes()
    for row in EXTRA_PACKAGES:
        package += ("\t".join(row).replace("{strattera}", strattera) + "\r\n").encode("cp1252")
    (work / "product.txt").write_bytes(product)
    (work / "package.txt").write_bytes(package)
    rt = _runtime(work / "home")
    archive(rt, DRUG, FDA, [work / "product.txt", work / "package.txt"], DATE)
    result = stage(rt, DRUG, "FDA_NDC", DATE, BATCH)
    yield rt, result
    rt.close()


def test_stage_rejects_have_reasons(crafted: tuple[Runtime, StageResult]) -> None:
    rt, r = crafted
    rejects = rt.engine.execute(
        f"SELECT * FROM staging.drug_rejects WHERE ingestion_batch_id = '{BATCH}' ORDER BY "
        "source_row"
    ).dicts()
    codes = {x["raw_value"]: x["reason_code"] for x in rejects}
    assert codes == {"0002-9999-01": "no_product", "0002-3227-3O": "bad_ndc",
                     "0002-9999-30": "ndc_product_mismatch", "0002-3227-30": "duplicate"}
    assert all(x["reason"] and x["source_file"] == "package.txt" and x["source_row"] > 0
               for x in rejects)
    assert r.reasons == {"no_product": 1, "bad_ndc": 1, "ndc_product_mismatch": 1}
    assert (r.rejected, r.duplicates) == (3, 1)
    assert r.rows_read == 2934 + len(EXTRA_PACKAGES)
    assert r.rows_read == r.staged + r.duplicates + r.rejected + r.excluded


def test_stage_duplicate_keeps_newest_listing(crafted: tuple[Runtime, StageResult]) -> None:
    rt, _r = crafted
    [row] = rt.engine.execute(
        f"SELECT package_description FROM staging.drug_batch WHERE ingestion_batch_id = '{BATCH}' "
        "AND ndc = '00002322730'").rows
    # Same product, so the same product marketing start: rule 2 decides, the later package
    # marketing start (2019-01-01 over 2003-01-10) wins; the original row is the duplicate.
    assert row[0] == "listed twice"
