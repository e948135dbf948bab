"""``ppstack query --as-of-date / --as-of-snapshot / --as-of-time`` on a real three-day history.

Three small deliveries of the bundled extract go through ``ppstack ingest`` (archive, stage, SCD2,
DynamoDB sync): day 2 renames one product, day 3 drops one package. The queries then read
business time (versions in force on a day), system time (the table as a snapshot committed it)
and both at once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ppstack.backends import Runtime
from ppstack.cli.main import cli
from ppstack.errors import BadInput
from ppstack.settings import Settings

DAY1, DAY2, DAY3 = "2019-04-29", "2019-04-30", "2019-05-01"
RENAMED_PRODUCT = b"0002-0800"  # first product of the sample: "Sterile Diluent"
OLD_NAME, NEW_NAME = "Sterile Diluent", "Sterile Diluent Renamed"
DROPPED_PACKAGE = "0002-1200-50"
PRODUCTS = 40


def delivery(sample_files: dict[str, Path], out: Path, *, rename: bool, drop: bool) -> list[str]:
    """The first PRODUCTS products of the bundled sample and their packages, bytes as published;
    optionally with RENAMED_PRODUCT's PROPRIETARYNAME changed and DROPPED_PACKAGE left out."""
    prod_lines = sample_files["product"].read_bytes().split(b"\r\n")
    pack_lines = sample_files["package"].read_bytes().split(b"\r\n")
    products = prod_lines[: PRODUCTS + 1]
    if rename:
        for i, line in enumerate(products):
            cells = line.split(b"\t")
            if cells[1] == RENAMED_PRODUCT:
                assert cells[3] == OLD_NAME.encode()
                cells[3] = NEW_NAME.encode()
                products[i] = b"\t".join(cells)
    ids = {line.split(b"\t", 1)[0] for line in products[1:]}
    packages = [pack_lines[0]] + [p for p in pack_lines[1:] if p.split(b"\t", 1)[0] in ids]
    assert any(p.split(b"\t")[2] == DROPPED_PACKAGE.encode() for p in packages)
    if drop:
        packages = [p for p in packages if p.split(b"\t")[2:3] != [DROPPED_PACKAGE.encode()]]
    out.mkdir(parents=True, exist_ok=True)
    (out / "product.txt").write_bytes(b"\r\n".join(products) + b"\r\n")
    (out / "package.txt").write_bytes(b"\r\n".join(packages) + b"\r\n")
    return [str(out / "product.txt"), str(out / "package.txt")]


def invoke(settings: Settings, *args: str):
    env = {"PPSTACK_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
           "PPSTACK_DYNAMODB_TABLE": settings.dynamodb_table}
    return CliRunner().invoke(cli, ["--home", settings.home, "--quiet", *args], env=env)


def query(settings: Settings, sql: str, *options: str) -> list[dict]:
    result = invoke(settings, "query", sql, "--format", "json", *options)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def count(settings: Settings, *options: str) -> int:
    return query(settings, "SELECT count(*) AS n FROM conformed.drug", *options)[0]["n"]


def names(settings: Settings, *options: str) -> set[str]:
    sql = ("SELECT DISTINCT proprietary_name FROM conformed.drug d "
           f"WHERE d.product_ndc = '{RENAMED_PRODUCT.decode()}'")
    return {r["proprietary_name"] for r in query(settings, sql, *options)}


def dropped(settings: Settings, *options: str) -> list[dict]:
    return query(settings, "SELECT ndc, active_from, active_to FROM conformed.drug "
                           f"WHERE package_ndc = '{DROPPED_PACKAGE}'", *options)


def last_snapshot(settings: Settings) -> dict:
    rt = Runtime(settings)
    try:
        return rt.engine.snapshots("conformed", "drug")[-1]
    finally:
        rt.close()


def test_query_time_travel_business_and_system_time(settings: Settings, sample_files: dict,
                                                    tmp_path: Path) -> None:
    days = {DAY1: delivery(sample_files, tmp_path / "d1", rename=False, drop=False),
            DAY2: delivery(sample_files, tmp_path / "d2", rename=True, drop=False),
            DAY3: delivery(sample_files, tmp_path / "d3", rename=True, drop=True)}
    after: dict[str, dict] = {}
    between = ""
    for day, files in days.items():
        result = invoke(settings, "ingest", "DRUG", "FDA_NDC", *files, "--date", day)
        assert result.exit_code == 0, (result.output, result.exception)
        after[day] = last_snapshot(settings)
        if day == DAY1:
            time.sleep(0.05)  # an instant strictly after batch 1's commit, before batch 2 starts
            between = dt.datetime.now(dt.UTC).isoformat()
            batch1_rows = count(settings)
            time.sleep(0.05)
    assert after[DAY1]["snapshot_id"] != after[DAY2]["snapshot_id"] != after[DAY3]["snapshot_id"]

    # business time, half-open: the rename belongs to day 2, the drop to day 3
    assert names(settings, "--as-of-date", DAY1) == {OLD_NAME}
    assert names(settings, "--as-of-date", DAY2) == {NEW_NAME}
    assert names(settings, "--as-of-date", DAY3) == {NEW_NAME}
    assert names(settings, "--as-of-date", "2019-04-28") == set()  # before the first delivery
    assert names(settings) == {OLD_NAME, NEW_NAME}  # without it: every version
    present = dropped(settings, "--as-of-date", DAY2)
    assert len(present) == 1 and present[0]["active_to"] == DAY3
    assert dropped(settings, "--as-of-date", DAY3) == []
    assert count(settings, "--as-of-date", DAY3) == batch1_rows - 1
    assert count(settings, "--as-of-date", DAY2) == batch1_rows

    # system time: the table as batch 1 committed it
    snap1 = str(after[DAY1]["snapshot_id"])
    assert count(settings, "--as-of-snapshot", snap1) == batch1_rows
    assert count(settings) > batch1_rows  # the rename added versions since
    assert names(settings, "--as-of-snapshot", snap1) == {OLD_NAME}
    assert count(settings, "--as-of-time", between) == batch1_rows
    assert names(settings, "--as-of-time", between.replace("+00:00", "Z")) == {OLD_NAME}
    assert count(settings, "--as-of-snapshot", str(after[DAY3]["snapshot_id"])) == count(settings)

    # both: day 2 as the system knew it after batch 1 (the rename was not loaded yet)
    assert names(settings, "--as-of-date", DAY2, "--as-of-snapshot", snap1) == {OLD_NAME}
    assert len(dropped(settings, "--as-of-date", DAY3, "--as-of-snapshot", snap1)) == 1
    assert dropped(settings, "--as-of-date", DAY3,
                   "--as-of-snapshot", str(after[DAY3]["snapshot_id"])) == []
    assert names(settings, "--as-of-date", DAY2, "--as-of-time", between) == {OLD_NAME}

    # joins and aliases: each conformed table becomes its own in-force subquery
    joined = query(settings, "SELECT a.ndc, b.proprietary_name FROM conformed.drug a "
                             "JOIN conformed.drug b ON a.ndc = b.ndc "
                             f"WHERE a.package_ndc = '{DROPPED_PACKAGE}'", "--as-of-date", DAY2)
    assert len(joined) == 1


@pytest.mark.parametrize("bad", ["2019-02-30", "30/04/2019", "yesterday"])
def test_query_as_of_date_bad_date_exit_2(offline_settings: Settings, bad: str) -> None:
    from ppstack.cli.main import main

    args = ["--home", offline_settings.home, "query", "--as-of-date", bad,
            "SELECT count(*) FROM conformed.drug"]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, BadInput) and result.exception.exit_code == 2
    assert "--as-of-date" in str(result.exception)
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2


def test_query_as_of_date_needs_a_conformed_table(offline_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["--home", offline_settings.home, "query", "--as-of-date",
                                      "2019-04-30", "SELECT 1 AS one"])
    assert isinstance(result.exception, BadInput) and "conformed" in str(result.exception)


def test_query_help_documents_as_of_date() -> None:
    result = CliRunner().invoke(cli, ["query", "--help"])
    assert result.exit_code == 0
    assert "--as-of-date" in result.output
    assert "ppstack query --as-of-date 2019-04-30" in result.output
