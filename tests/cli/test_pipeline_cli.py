"""``ppstack ingest`` / ``run`` / ``status`` end to end: archive, real stage, close, insert,
sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from deliveries import cut
from ppstack.backends import Runtime
from ppstack.cli.main import cli
from ppstack.errors import BadInput, Refused
from ppstack.pipeline.invariants import check_invariants
from ppstack.settings import Settings


def invoke(settings: Settings, *args: str):
    env = {"PPSTACK_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
           "PPSTACK_DYNAMODB_TABLE": settings.dynamodb_table}
    return CliRunner().invoke(cli, ["--home", settings.home, "--quiet", *args], env=env)


def rows(settings: Settings) -> list[dict]:
    rt = Runtime(settings)
    try:
        return rt.engine.execute("SELECT * FROM conformed.drug").dicts()
    finally:
        rt.close()


@pytest.mark.slow
def test_pipeline_cli_ingest_two_days_then_status(settings: Settings, sample_files: dict,
                                                  tmp_path: Path) -> None:
    day1 = cut(sample_files, tmp_path / "d1", products=60)
    day2 = cut(sample_files, tmp_path / "d2", products=60, drop_packages=12)

    first = invoke(settings, "ingest", "DRUG", "FDA_NDC", *map(str, day1), "--date", "2019-04-29")
    assert first.exit_code == 0, first.output
    assert "state      synced" in first.output and "dynamodb" in first.output
    before = rows(settings)
    check_invariants([], before, "ndc")

    # twelve packages gone: more than 5 % of a small delivery -> refused, nothing changed
    refused = invoke(settings, "ingest", "DRUG", "FDA_NDC", *map(str, day2), "--date", "2019-04-30")
    assert isinstance(refused.exception, Refused) and refused.exception.exit_code == 2
    assert "--allow-mass-delete" in str(refused.exception)
    assert "state      failed" in refused.output  # the failed batch's report is still printed
    assert rows(settings) == before

    resumed = invoke(settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-30",
                     "--allow-mass-delete", "--format", "json")
    assert resumed.exit_code == 0, resumed.output
    record = json.loads(resumed.output)
    assert record["state"] == "synced" and record["counts"]["deleted"] == 12
    assert record["attempts"] == 2
    check_invariants(before, rows(settings), "ndc")

    status = invoke(settings, "status", "DRUG", "--format", "json")
    listed = json.loads(status.output)
    assert [(b["date"], b["state"]) for b in listed] == [("2019-04-29", "synced"),
                                                         ("2019-04-30", "synced")]

    late = invoke(settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-28")
    assert isinstance(late.exception, Refused)
    assert "replaying the raw archive" in str(late.exception)


def test_pipeline_cli_status_without_batches_is_empty(offline_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["--home", offline_settings.home, "status", "DRUG",
                                      "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_pipeline_cli_bad_date_is_usage_error(offline_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["--home", offline_settings.home, "run", "DRUG", "FDA_NDC",
                                      "--date", "2019-02-30"])
    assert result.exit_code != 0


def test_run_until_stops_after_the_step_and_a_later_run_resumes(settings: Settings,
                                                                sample_files: dict,
                                                                tmp_path: Path) -> None:
    day1 = cut(sample_files, tmp_path / "d1", products=20)
    archived = invoke(settings, "archive", "DRUG", "FDA_NDC", *map(str, day1),
                      "--date", "2019-04-29")
    assert archived.exit_code == 0, archived.output

    stopped = invoke(settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                     "--until", "inserted", "--format", "json")
    assert stopped.exit_code == 0, stopped.output
    record = json.loads(stopped.output)
    assert record["state"] == "inserted" and "sync" not in record["timings"]
    assert record["dynamodb"] == {}
    inserted = rows(settings)  # the conformed table is there to inspect before the sync
    assert inserted and all(r["ingestion_batch_id"] == record["batch_id"] for r in inserted)

    again = invoke(settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                   "--until", "closed", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["state"] == "inserted"  # already past: nothing runs

    resumed = invoke(settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                     "--format", "json")
    assert resumed.exit_code == 0, resumed.output
    done = json.loads(resumed.output)
    assert done["batch_id"] == record["batch_id"] and done["state"] == "synced"
    assert done["dynamodb"]["writes"] > 0
    assert rows(settings) == inserted  # the resumed run did not re-apply close or insert


def test_run_until_refuses_an_unknown_step_listing_the_valid_ones(offline_settings: Settings
                                                                  ) -> None:
    result = invoke(offline_settings, "run", "DRUG", "FDA_NDC", "--date", "2019-04-29",
                    "--until", "loaded")
    assert isinstance(result.exception, BadInput) and result.exception.exit_code == 2
    message = str(result.exception)
    assert "'loaded'" in message and "staged, closed, inserted, synced" in message
    assert not (Path(offline_settings.home) / "s3").exists()  # refused before touching anything
