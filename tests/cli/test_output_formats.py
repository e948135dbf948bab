"""One output convention (docs/cli.md#output): every ``--format`` is the shared option, and
``--format json`` prints one valid JSON document on stdout and nothing else."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ppstack.cli.main import cli
from ppstack.cli.output import RECORD_FORMATS, ROW_FORMATS
from ppstack.settings import Settings

DATE = "2019-04-29"


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_output_formats_every_format_option_is_the_shared_one() -> None:
    seen = 0
    for name, cmd in _commands(cli):
        for param in cmd.params:
            if "--format" in getattr(param, "opts", ()):
                seen += 1
                assert param.name == "fmt", name
                assert isinstance(param.type, click.Choice), name
                assert tuple(param.type.choices) in (ROW_FORMATS, RECORD_FORMATS), (
                    f"ppstack {name}: use ppstack.cli.output.format_option, not its own --format")
    assert seen >= 8


class Home:
    """One home with one ingested batch, shared by the JSON checks below."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = {"PPSTACK_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
                    "PPSTACK_DYNAMODB_TABLE": settings.dynamodb_table}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--home", self.settings.home, *args], env=self.env)


@pytest.fixture
def home(settings: Settings, sample_files: dict[str, Path]) -> Home:
    return Home(settings)


def _json(result: Result) -> object:
    """The whole of stdout is one JSON document (progress went to stderr)."""
    return json.loads(result.stdout)


@pytest.mark.slow
def test_output_formats_json_is_valid_on_stdout(home: Home, sample_files: dict[str, Path],
                                                tmp_path: Path) -> None:
    files = [str(sample_files["product"]), str(sample_files["package"])]
    ingest = home.run("ingest", "DRUG", "FDA_NDC", *files, "--date", DATE, "--format", "json")
    assert ingest.exit_code == 0, ingest.output
    record = _json(ingest)
    assert isinstance(record, dict) and record["state"] == "synced"
    batch = record["batch_id"]

    archived = _json(home.run("archive", "DRUG", "FDA_NDC", *files, "--date", DATE,
                              "--format", "json"))
    assert isinstance(archived, dict) and archived["already_archived"] is True

    status = _json(home.run("status", "DRUG", "--format", "json"))
    assert isinstance(status, list) and status[0]["batch_id"] == batch

    rows = _json(home.run("query", "SELECT count(*) AS n FROM conformed.drug", "--format",
                          "json"))
    assert isinstance(rows, list) and rows[0]["n"] > 0
    assert _json(home.run("query", "CREATE DATABASE IF NOT EXISTS staging", "--format",
                          "json")) == []

    synced = _json(home.run("sync", "DRUG", "--batch-id", batch, "--format", "json"))
    assert isinstance(synced, dict) and "history_puts" in synced

    assert _json(home.run("reconcile", "DRUG", "--format", "json")) == []

    staged = _json(home.run("stage", "DRUG", "FDA_NDC", "--date", DATE, "--format", "json"))
    assert isinstance(staged, dict) and staged["staged"] > 0

    scenario = _json(home.run("scenario", str(tmp_path / "scn"), "--dates",
                              "2019-04-29,2019-04-30", "--format", "json"))
    assert isinstance(scenario, dict) and len(scenario["snapshots"]) == 2


@pytest.mark.slow
def test_output_formats_rows_as_csv_and_table(home: Home, sample_files: dict[str, Path],
                                              tmp_path: Path) -> None:
    files = [str(sample_files["product"]), str(sample_files["package"])]
    assert home.run("-q", "ingest", "DRUG", "FDA_NDC", *files, "--date", DATE).exit_code == 0
    status = list(csv.DictReader(io.StringIO(home.run("status", "DRUG", "--format",
                                                      "csv").stdout)))
    assert [r["state"] for r in status] == ["synced"] and status[0]["date"] == DATE
    table = home.run("status", "DRUG").stdout.splitlines()
    assert table[0].split()[:3] == ["batch_id", "date", "state"]
    counts = list(csv.DictReader(io.StringIO(home.run(
        "scenario", str(tmp_path / "scn"), "--dates", "2019-04-29,2019-04-30",
        "--format", "csv").stdout)))
    assert [r["date"] for r in counts] == ["2019-04-29", "2019-04-30"]
