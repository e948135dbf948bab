"""``ppstack serve`` as a user runs it: prints the base URL, answers, logs to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

from ppstack.settings import ENV, Settings

from .loader import Scenario


def test_cli_serve_prints_url_and_answers(loaded: tuple[Any, Scenario],
                                          api_settings: Settings) -> None:
    env = {**os.environ,
           ENV["home"]: api_settings.home,
           ENV["dynamodb_table"]: api_settings.dynamodb_table,
           ENV["dynamodb_endpoint"]: api_settings.dynamodb_endpoint}
    proc = subprocess.Popen([sys.executable, "-m", "ppstack", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert base.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        assert "curl" in proc.stdout.readline()  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{base}/drug/0002-3227-30", timeout=10) as r:
            assert json.loads(r.read())["entity_id"] == "00002322730"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "GET /drug/0002-3227-30 200" in proc.stderr.read()  # type: ignore[union-attr]
