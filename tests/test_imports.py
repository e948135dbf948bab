"""Test modules import their helpers by module name (``from deliveries import cut``), never
through a ``tests`` package: ``python -m pytest`` puts the repository root on ``sys.path`` and
plain ``pytest`` does not, so ``from tests.conftest import ...`` passes in one and fails with
ModuleNotFoundError in the other."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imports_tests_package(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                 else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        if any(n == "tests" or n.startswith("tests.") for n in names):
            lines.append(node.lineno)
    return lines


def test_no_test_module_imports_the_tests_package() -> None:
    found = {str(p.relative_to(TESTS)): lines for p in sorted(TESTS.rglob("*.py"))
             if (lines := _imports_tests_package(p))}
    assert found == {}


def test_the_check_sees_such_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text("import json\nfrom tests.conftest import SAMPLE_DIR\nimport tests.x\n")
    assert _imports_tests_package(bad) == [2, 3]
