"""Full real FDA files (2019-04-29): archive + stage, checked against an independent Python
count."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ppstack.backends import Runtime
from ppstack.cli.main import cli
from ppstack.entities import DRUG, SOURCES
from ppstack.pipeline.stage import stage
from ppstack.raw.archive import archive
from ppstack.serving.keys import normalize_ndc
from ppstack.settings import load_settings

BATCH = "20190429T060000.000000Z"


def _rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_bytes().decode("cp1252", errors="replace").split("\r\n")
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line]


def test_stage_full_files_one_row_per_distinct_ndc(tmp_path: Path,
                                                   full_fda_files: dict[str, Path]) -> None:
    products = {p["PRODUCTID"]: p for p in _rows(full_fda_files["product"])}
    packages = _rows(full_fda_files["package"])
    included = [k for k in packages
                if products.get(k["PRODUCTID"], {}).get("NDC_EXCLUDE_FLAG") == "N"]
    expected = {normalize_ndc(k["NDCPACKAGECODE"]) for k in included} - {None}

    home = tmp_path / "home"
    rt = Runtime(load_settings(backend="local", home=str(home),
                               dynamodb_endpoint="http://127.0.0.1:9"))
    try:
        archive(rt, DRUG, SOURCES["FDA_NDC"],
                [full_fda_files["product"], full_fda_files["package"]],
                "2019-04-29")
        result = stage(rt, DRUG, "FDA_NDC", "2019-04-29", BATCH)
    finally:
        rt.close()

    assert 180_000 < result.staged == len(expected)
    assert result.rows_read == len(packages)
    assert result.excluded == len(packages) - len(included)
    assert result.duplicates == len(included) - len(expected) - result.rejected
    assert result.rows_read == result.staged + result.duplicates + result.rejected + result.excluded
    print(json.dumps({k: v for k, v in result.to_dict().items() if k != "timings"}))

    sql = ("SELECT count(*), count(DISTINCT ndc) FROM staging.drug_batch "
           f"WHERE ingestion_batch_id = '{BATCH}'")
    out = CliRunner().invoke(cli, ["--home", str(home), "query", sql, "--format", "json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.stdout)
    assert sorted(row.values()) == [len(expected), len(expected)]
