"""The repository explains itself: comments, docstrings and docs refer only to files inside it.

A fresh clone has no design notes beside it, so a comment that says "see <some file outside the
repository>" sends the next maintainer nowhere. Code points into ``docs/`` instead, and every
such pointer (``docs/<page>.md#<heading>``) and every relative Markdown link must resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("src", "tests", "bench", "infra", "scripts", "docs", ".ci")
TOP_FILES = ("README.md", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".sql", ".md", ".yaml", ".yml", ".toml", ".html", ".js", ".css", ".sh", ""}
SKIP_PARTS = {".venv", "node_modules", "cdk.out", "__pycache__", ".pytest_cache", ".hypothesis",
              ".mypy_cache", ".ruff_cache"}

# Names of notes that live outside the repository, written split so this file does not match.
OUTSIDE = tuple(re.compile(p) for p in (
    r"DESIGN" r"\.md", r"STYLE" r"\.md", r"aws-facts" r"\.md", r"architecture-" r"decisions",
    r"\.\./shared/" r"(docs|spec)", r"\.\./spec" r"/",
))
DOCS_REF = re.compile(r"docs/([a-z0-9_-]+\.md)(#[a-z0-9-]+)?")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text_files() -> list[Path]:
    paths = [ROOT / name for name in TOP_FILES]
    for folder in FOLDERS:
        base = ROOT / folder
        if not base.exists():
            continue
        for p in base.rglob("*"):
            if (p.is_file() and p.suffix in SUFFIXES and not SKIP_PARTS & set(p.parts)
                    and not p.name.endswith(".egg-info") and "egg-info" not in str(p)):
                paths.append(p)
    return sorted(p for p in paths if p.is_file())


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M)}


FILES = _text_files()


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_repository_references_scan_finds_the_code() -> None:
    names = {_rel(p) for p in FILES}
    assert "src/ppstack/backends.py" in names and "docs/architecture.md" in names
    assert "src/ppstack/sql/templates/scd2_close.sql" in names


def test_repository_references_nothing_outside_the_repository() -> None:
    found = []
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            for pattern in OUTSIDE:
                if pattern.search(line):
                    found.append(f"{_rel(path)}:{n}: {line.strip()}")
    assert not found, "references to files outside the repository:\n" + "\n".join(found)


def test_repository_references_docs_pointers_resolve() -> None:
    broken = []
    seen = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in DOCS_REF.finditer(text):
            seen += 1
            page = ROOT / "docs" / m.group(1)
            if not page.is_file():
                broken.append(f"{_rel(path)}: {m.group(0)} (no such page)")
            elif m.group(2) and m.group(2)[1:] not in _anchors(page):
                broken.append(f"{_rel(path)}: {m.group(0)} (no such heading)")
    assert seen >= 20, "code should point into docs/"
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_repository_references_markdown_links_resolve(page: Path) -> None:
    broken = []
    for m in MD_LINK.finditer(page.read_text(encoding="utf-8")):
        target = m.group(1)
        if re.match(r"^[a-z]+:", target):
            continue  # a URL
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if ROOT.resolve() not in dest.parents and dest != ROOT.resolve():
            broken.append(f"{target} leaves the repository")
        elif not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.name}: " + ", ".join(broken)
