"""The handlers run with only boto3 and the standard library: the Lambda bundle's promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from import_guard import guarded_script
from ppstack.settings import ENV, Settings

from .loader import Scenario

EVENTS = Path(__file__).resolve().parents[1] / "events"

SCRIPT = guarded_script(
    {"duckdb", "pyarrow", "pyiceberg", "sqlglot", "click", "yaml", "pandas", "moto"},
    "the Lambda bundle", r"""
import json
from ppstack.api import handlers

out = {}
for name, fn in (("get_drug", handlers.get_drug), ("get_drug_history", handlers.get_drug_history),
                 ("search_drug", handlers.search_drug)):
    with open(f"{sys.argv[1]}/{name}.json") as f:
        out[name] = fn(json.load(f), None)
out["heavy_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps(out))
""")


def test_handlers_run_without_heavy_dependencies(loaded: tuple[Any, Scenario],
                                                 api_settings: Settings) -> None:
    env = {
        **os.environ,
        ENV["dynamodb_table"]: api_settings.dynamodb_table,
        ENV["dynamodb_endpoint"]: api_settings.dynamodb_endpoint,
        ENV["region"]: "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(EVENTS)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["heavy_loaded"] == []
    assert out["get_drug"]["statusCode"] == 200
    assert json.loads(out["get_drug"]["body"])["entity_id"] == "00002322730"
    assert out["get_drug_history"]["statusCode"] == 200
    assert out["search_drug"]["statusCode"] == 200
    assert json.loads(out["search_drug"]["body"])["total"] > 0
