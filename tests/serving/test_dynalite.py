"""The local DynamoDB server launcher: start, reuse, stop, and a clear error without Node.js."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ppstack.errors import ServiceUnavailable
from ppstack.serving import dynalite
from ppstack.settings import load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_find_dynalite_without_node_names_the_fix(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no node anywhere
    with pytest.raises(ServiceUnavailable, match="Node.js is not installed"):
        dynalite.find_dynalite()
    settings = load_settings(home=str(tmp_path / "home"), dynamodb_port=str(free_port()))
    with pytest.raises(ServiceUnavailable, match="PPSTACK_DYNAMODB_ENDPOINT"):
        dynalite.ensure_running(settings)


def test_ensure_running_starts_reuses_and_stop_stops(tmp_path: Path) -> None:
    settings = load_settings(home=str(tmp_path / "home"), dynamodb_port=str(free_port()))
    settings.home_path.mkdir(parents=True)
    url = dynalite.ensure_running(settings)
    try:
        assert dynalite.is_ready(url)
        pid = json.loads((settings.home_path / "dynamodb.pid.json").read_text())["pid"]
        assert dynalite.ensure_running(settings) == url  # reused, not a second server
        assert json.loads((settings.home_path / "dynamodb.pid.json").read_text())["pid"] == pid
    finally:
        assert dynalite.stop(settings) is True
    assert not dynalite.is_ready(url)
    assert dynalite.stop(settings) is False


def test_ensure_running_never_shares_another_homes_server(tmp_path: Path) -> None:
    """Two homes configured with the same port get two servers (their data must not mix)."""
    port = str(free_port())
    a = load_settings(home=str(tmp_path / "a"), dynamodb_port=port)
    b = load_settings(home=str(tmp_path / "b"), dynamodb_port=port)
    try:
        url_a = dynalite.ensure_running(a)
        url_b = dynalite.ensure_running(b)
        assert url_a.endswith(f":{port}")
        assert url_b != url_a
        assert dynalite.running_endpoint(b) == url_b  # remembered for b's next command
    finally:
        dynalite.stop(a)
        dynalite.stop(b)
