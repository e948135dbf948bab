"""The fetch Lambda imports boto3, pyarrow (its own layer: the archive writes Parquet) and the
standard library, nothing heavier: no SQL engine, Iceberg, CLI or YAML in its bundle."""

from __future__ import annotations

import subprocess
import sys

from import_guard import guarded_script

SCRIPT = guarded_script(
    {"duckdb", "pyiceberg", "sqlglot", "click", "yaml", "pandas", "moto"},
    "the fetch Lambda", r"""
from ppstack.raw import fetch_handler
import ppstack.raw.fetch, ppstack.raw.archive, ppstack.raw.renditions
print(sorted(fetch_handler.targets({})))
""")


def test_fetch_handler_imports_nothing_heavier_than_pyarrow() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "('DRUG', 'FDA_NDC')" in proc.stdout
