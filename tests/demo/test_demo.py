"""``ppstack demo``: the README's first command, end to end on the bundled extract."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from ppstack.cli.main import cli, main
from ppstack.demo import run_demo
from ppstack.settings import Settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        "PPSTACK_HOME": settings.home,
        "PPSTACK_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "PPSTACK_DYNAMODB_TABLE": settings.dynamodb_table,
    }


def test_demo_no_serve_runs_every_layer_and_answers(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["-q", "demo", "--no-serve"], env=_env(settings))
    assert result.exit_code == 0, result.output
    out = result.output
    # one batch report per derived date, each complete, with every count the issue names
    assert out.count("state      synced") == 3
    for word in ("read", "staged", "rejected", "inserted", "updated", "deleted", "dynamodb",
                 "time sync"):
        assert f"\n{word}" in out
    # real API responses: Strattera found, its history, searches
    assert "GET /drug/00002322730 -> 200" in out
    assert '"proprietary_name": "Strattera"' in out
    assert "GET /drug/0002-3227-30/history -> 200" in out
    assert "GET /search/drug?q=strattera -> 200" in out


def test_demo_refuses_a_home_it_did_not_make(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    home = Path(settings.home)
    home.mkdir(parents=True)
    (home / "precious.txt").write_text("keep me")
    for k, v in _env(settings).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--no-serve"])
    assert exit_info.value.code == 2
    assert "was not made by `ppstack demo`" in capsys.readouterr().err
    assert (home / "precious.txt").read_text() == "keep me"


def test_demo_serve_again_in_the_same_home_keeps_the_api_up_until_stopped(
        settings: Settings) -> None:
    """A second demo in the same home starts over (no refused date), then serves until stopped."""
    first = CliRunner().invoke(cli, ["-q", "demo", "--no-serve"], env=_env(settings))
    assert first.exit_code == 0, first.output
    stop = threading.Event()
    seen: list[str] = []
    box: dict = {}

    def echo(msg: str) -> None:
        seen.append(msg)
        if msg.startswith("\nServing "):
            url = msg.split()[1]
            with urllib.request.urlopen(f"{url}/drug/00002322730", timeout=10) as r:
                box["status"] = r.status
            stop.set()

    result = run_demo(settings, serve=True, port=0, echo=echo, progress=lambda _m: None, stop=stop)
    assert box["status"] == 200
    assert result.base_url.startswith("http://127.0.0.1:")
    assert len(result.batches) == 3


def test_demo_rerun_leaves_dynamodb_equal_to_conformed(settings: Settings) -> None:
    """The second demo in a home starts DynamoDB over too: reconcile finds no stale item."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.serving.reconcile import reconcile

    env = _env(settings)
    for _ in range(2):
        assert CliRunner().invoke(cli, ["-q", "demo", "--no-serve"], env=env).exit_code == 0
    rt = Runtime(settings)
    try:
        assert reconcile(rt, DRUG) == []
    finally:
        rt.close()


def test_demo_refuses_a_taken_port_before_doing_anything(settings: Settings) -> None:
    import socket

    from ppstack.errors import BadInput

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BadInput, match="cannot listen"):
            run_demo(settings, serve=True, port=port, echo=lambda _m: None,
                     progress=lambda _m: None)
    assert not Path(settings.home).exists()  # nothing was ingested


def test_lineage_after_demo_shows_raw_file_and_row_and_api_history_opening_batch(
        settings: Settings) -> None:
    import json

    from ppstack.api.service import get_history
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG

    env = _env(settings)
    assert CliRunner().invoke(cli, ["-q", "demo", "--no-serve"], env=env).exit_code == 0
    shown = CliRunner().invoke(cli, ["lineage", "DRUG", "00002322730"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "sha256 " in shown.output and " row " in shown.output
    result = CliRunner().invoke(cli, ["lineage", "DRUG", "0002-3227-30", "--format", "json"],
                                env=env)
    versions = json.loads(result.output)
    assert versions and all(v["source_row"] and v["opened_batch_id"] for v in versions)
    for v in versions:
        assert v["source_file"].endswith("package.txt")
        assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in v["raw_files"])
    with Runtime(settings) as rt:
        history = get_history(rt.dynamodb, settings.dynamodb_table, DRUG, "00002322730")
    assert {h["effective_from"]: h["opened_batch_id"] for h in history} == {
        v["active_from"]: v["opened_batch_id"] for v in versions}
