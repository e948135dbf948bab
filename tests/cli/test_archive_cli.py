"""``ppstack archive``: report on stdout, progress on stderr, refusals exit 2 and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppstack.backends import Runtime
from ppstack.cli.main import main
from ppstack.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "ppstack" / "data" / "sample" / "fda_ndc"
FILES = [str(SAMPLE / "product.txt"), str(SAMPLE / "package.txt")]


def _run(settings: Settings, *args: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(["--home", settings.home, *args])
    return int(e.value.code or 0)


def _written(settings: Settings) -> list[str]:
    store = Runtime(settings).store
    return store.list("raw/") + store.list("raw_tabular/")


def test_archive_cli_json_reports_rows_keys_and_sha256(offline_settings: Settings, capsys) -> None:
    code = _run(offline_settings, "archive", "DRUG", "FDA_NDC", *FILES, "--date", "2019-04-29",
                "--format", "json")
    out, err = capsys.readouterr()
    assert code == 0
    report = json.loads(out)
    assert report["members"]["product"]["rows"] == 2290
    assert report["members"]["package"]["key"].startswith("raw_tabular/DRUG/FDA_NDC/2019-04-29/")
    assert len(report["files"][0]["sha256"]) == 64
    assert "reading" in err  # progress goes to stderr only
    assert len(_written(offline_settings)) == 5


def test_archive_cli_table_rerun_says_already_archived(offline_settings: Settings, capsys) -> None:
    args = ("archive", "drug", "fda_ndc", *FILES, "--date", "2019-04-29")
    assert _run(offline_settings, *args) == 0
    capsys.readouterr()
    assert _run(offline_settings, "-q", *args) == 0
    out, err = capsys.readouterr()
    assert "already archived" in out and "package  2934 rows" in out
    assert err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("archive", "PILL", "FDA_NDC", *FILES, "--date", "2019-04-29"),
         "unknown entity type 'PILL'"),
        (("archive", "DRUG", "NDC_FDA", *FILES, "--date", "2019-04-29"),
         "unknown source 'NDC_FDA'"),
        (("archive", "DRUG", "FDA_NDC", *FILES, "--date", "29/04/2019"),
         "--date must be YYYY-MM-DD"),
        (("archive", "DRUG", "FDA_NDC", FILES[0], "--date", "2019-04-29"),
         "lacks member(s) package"),
    ],
    ids=["unknown-entity", "unknown-source", "bad-date", "member-missing"],
)
def test_archive_cli_bad_input_exits_2_and_writes_nothing(
    offline_settings: Settings, capsys, args: tuple[str, ...], message: str
) -> None:
    assert _run(offline_settings, *args) == 2
    assert message in capsys.readouterr().err
    assert _written(offline_settings) == []


def test_archive_cli_different_bytes_for_archived_date_exits_2(
    offline_settings: Settings, capsys, tmp_path: Path
) -> None:
    assert _run(offline_settings, "archive", "DRUG", "FDA_NDC", *FILES, "--date", "2019-04-29") == 0
    before = _written(offline_settings)
    changed = tmp_path / "product.txt"
    changed.write_bytes(Path(FILES[0]).read_bytes().replace(b"Strattera", b"Strattera2"))
    capsys.readouterr()
    code = _run(offline_settings, "archive", "DRUG", "FDA_NDC", str(changed), FILES[1], "--date",
                "2019-04-29")
    assert code == 2
    assert "already archived" in capsys.readouterr().err
    assert _written(offline_settings) == before
