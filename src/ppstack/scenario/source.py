"""Reading an FDA NDC text file as raw lines, so untouched rows are written back byte for byte.

The scenario edits a few fields of a few rows and must leave every other byte as the publisher
wrote it (encoding Windows-1252, tab-delimited, the source's line ending), so it never decodes a
whole file: a row is a ``bytes`` line, a field is a slice of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ppstack.errors import BadInput


@dataclass
class SourceTable:
    """A delimited file kept as raw lines, so untouched rows are written back byte for byte."""

    header: bytes
    cols: dict[str, int]
    lines: list[bytes]
    eol: bytes
    sha256: str


def read_table(path: Path, required: tuple[str, ...]) -> SourceTable:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    if not data.strip():
        raise BadInput(f"{path} is empty")
    first = data.split(b"\n", 1)[0]
    eol = b"\r\n" if first.endswith(b"\r") else b"\n"
    lines = data.split(eol)
    if lines and lines[-1] == b"":
        lines.pop()
    header = lines[0]
    cols = {name.decode("latin-1").strip(): i for i, name in enumerate(header.split(b"\t"))}
    missing = [c for c in required if c not in cols]
    if missing:
        raise BadInput(f"{path} lacks column(s) {', '.join(missing)}; is it a tab-delimited "
                       "FDA NDC product/package file?")
    return SourceTable(header, cols, lines[1:], eol, hashlib.sha256(data).hexdigest())


def text(value: bytes) -> str:
    try:
        return value.decode("cp1252")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def set_field(line: bytes, col: int, value: bytes) -> bytes:
    fields = line.split(b"\t")
    fields[col] = value
    return b"\t".join(fields)


def get_field(line: bytes, col: int) -> bytes:
    return line.split(b"\t")[col]
