"""Build every accepted delivery form (and broken ones) from the bundled sample's real lines.

Spreadsheets are built from a slice of the sample (the first rows plus every non-ASCII row) so
they stay small and fast to write while still carrying Windows-1252 characters.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "ppstack" / "data" / "sample" / "fda_ndc"


def sample_bytes(member: str) -> bytes:
    return (SAMPLE / f"{member}.txt").read_bytes()


def sample_grid(member: str, limit: int = 120) -> list[list[str]]:
    """Header + a slice of data rows, decoded (Windows-1252), for spreadsheet forms."""
    lines = sample_bytes(member).decode("cp1252").split("\r\n")[:-1]
    head, body = lines[0], lines[1:]
    picked = body[:limit] + [ln for ln in body[limit:] if not ln.isascii()]
    return [ln.split("\t") for ln in [head, *picked]]


def grid_text(grid: list[list[str]]) -> bytes:
    return "".join("\t".join(row) + "\r\n" for row in grid).encode("cp1252")


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2019, 4, 29, 15, 15, 0)), data)
    return buf.getvalue()


def make_xlsx(sheets: dict[str, list[list[str]]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for title, grid in sheets.items():
        ws = book.create_sheet(title)
        for row in grid:
            ws.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def make_xls(sheets: dict[str, list[list[str]]]) -> bytes:
    import xlwt  # test-only dependency: xlwt==1.3.0

    book = xlwt.Workbook(encoding="utf-8")
    for title, grid in sheets.items():
        ws = book.add_sheet(title)
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                ws.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def write(directory: Path, files: dict[str, bytes]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        p = directory / name
        p.write_bytes(data)
        paths.append(p)
    return paths
