"""ppstack query / sql render / stage through the real CLI (click CliRunner, local backend)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ppstack.cli.main import cli

BATCH = "20190429T060000.000000Z"
COUNT_SQL = (f"SELECT ndc, marketing_start_date, ingestion_timestamp FROM staging.drug_batch "
             f"WHERE ingestion_batch_id = '{BATCH}' AND ndc IN ('00002322730', '00002120030') "
             "ORDER BY ndc")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sample_files: dict[str, Path]) -> str:
    """A home with the bundled extract archived and staged as BATCH (through the CLI)."""
    h = str(tmp_path_factory.mktemp("cli-home"))
    runner = CliRunner()
    r = runner.invoke(cli, ["--home", h, "-q", "archive", "DRUG", "FDA_NDC",
                            str(sample_files["product"]), str(sample_files["package"]),
                            "--date", "2019-04-29"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["--home", h, "-q", "stage", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                            "--batch-id", BATCH, "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["batch_id"] == BATCH and report["staged"] == 2692
    return h


def _run(home: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", home, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_query_json_is_array_of_objects_with_iso_dates(home: str) -> None:
    rows = json.loads(_run(home, "query", COUNT_SQL, "--format", "json"))
    assert [r["ndc"] for r in rows] == ["00002120030", "00002322730"]
    assert rows[1]["marketing_start_date"] == "2002-11-26"
    assert rows[1]["ingestion_timestamp"] == "2019-04-29T06:00:00"


def test_query_csv_has_header_and_rows(home: str) -> None:
    rows = list(csv.reader(io.StringIO(_run(home, "query", COUNT_SQL, "--format", "csv"))))
    assert rows[0] == ["ndc", "marketing_start_date", "ingestion_timestamp"]
    assert rows[2][:2] == ["00002322730", "2002-11-26"]


def test_query_table_is_aligned_text(home: str) -> None:
    lines = _run(home, "query", COUNT_SQL).splitlines()
    assert lines[0].split() == ["ndc", "marketing_start_date", "ingestion_timestamp"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[3].startswith("00002322730")


def test_query_bad_sql_fails_with_message(home: str) -> None:
    result = CliRunner().invoke(cli, ["--home", home, "query", "SELECT * FROM staging.nope"])
    assert result.exit_code != 0


def test_stage_cli_rerun_is_noop(home: str) -> None:
    out = json.loads(_run(home, "-q", "stage", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                          "--batch-id", BATCH, "--format", "json"))
    assert out["skipped"] == ["rejects", "batch"] and out["staged"] == 2692


def test_stage_cli_nothing_archived_exit_2(tmp_path: Path) -> None:
    from ppstack.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["--home", str(tmp_path), "-q", "stage", "DRUG", "FDA_NDC", "--date", "2019-05-01"])
    assert e.value.code == 2


def test_sql_render_stage_is_exact_sql(tmp_path: Path) -> None:
    out = _run(str(tmp_path), "sql", "render", "stage", "DRUG", "--date", "2019-04-29",
               "--batch-id", BATCH)
    assert "CREATE TABLE staging.drug_batch_20190429t060000_000000z" in out
    assert "external_location = 's3://pp-archive/staging/DRUG/20190429T060000.000000Z/'" in out
    assert "WHERE ingest_date = '2019-04-29'" in out
    assert "{{" not in out


def test_sql_render_aws_uses_s3_tables_catalog(tmp_path: Path) -> None:
    out = _run(str(tmp_path), "--backend", "aws", "sql", "render", "close", "DRUG",
               "--date", "2019-04-29", "--batch-id", BATCH)
    assert '"s3tablescatalog/pp-tables"."conformed"."drug"' in out
    local = _run(str(tmp_path), "sql", "render", "close", "DRUG", "--date", "2019-04-29",
                 "--batch-id", BATCH)
    assert "s3tablescatalog" not in local and "conformed.drug" in local


def test_sql_render_backend_option_on_the_subcommand(tmp_path: Path) -> None:
    """`ppstack sql render close DRUG --backend aws`, the form the issue names."""
    out = _run(str(tmp_path), "sql", "render", "close", "DRUG", "--backend", "aws",
               "--date", "2019-04-29", "--batch-id", BATCH)
    assert 'MERGE INTO "s3tablescatalog/pp-tables"."conformed"."drug"' in out


def test_sql_render_all_prints_the_step_definition_with_contexts(tmp_path: Path) -> None:
    """`--all` prints the statements the drivers execute: here the stage step on AWS, without
    what CloudFormation creates (Glue databases, S3 table), each with its catalog and database."""
    from ppstack.entities import DRUG
    from ppstack.pipeline.batch import BatchParams
    from ppstack.pipeline.steps import STAGE, nothing_written
    from ppstack.settings import load_settings

    out = _run(str(tmp_path), "sql", "render", "stage", "DRUG", "--all", "--backend", "aws",
               "--date", "2019-04-29", "--batch-id", BATCH)
    settings = load_settings(backend="aws", home=str(tmp_path))
    batch = BatchParams.build(settings, DRUG, "FDA_NDC", "2019-04-29", BATCH)
    assert STAGE.definition is not None
    statements = STAGE.definition.statements(batch, nothing_written)
    headers = [line for line in out.splitlines()
               if line.startswith("-- ") and " in catalog " in line]
    assert headers == [f"-- {s.template} in catalog AwsDataCatalog, database {s.context.database}"
                       for s in statements]
    assert all(s.sql.rstrip() in out for s in statements)
    assert "CREATE DATABASE" not in out and "ddl_conformed" not in out


def test_sql_render_template_name_and_members(tmp_path: Path) -> None:
    out = _run(str(tmp_path), "sql", "render", "ddl_table_raw", "DRUG")
    assert "raw.drug_fda_ndc_product" in out and "raw.drug_fda_ndc_package" in out


def test_sql_render_unknown_step_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "sql", "render", "nope", "DRUG"])
    assert result.exit_code != 0


def test_sql_render_help_lists_steps() -> None:
    out = CliRunner().invoke(cli, ["sql", "render", "--help"]).output
    for step in ("stage", "stage_rejects", "close", "insert", "ddl_conformed"):
        assert step in out
