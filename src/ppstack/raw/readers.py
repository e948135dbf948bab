"""Read one delivery of a Source, in any accepted form, into one string table per member.

Accepted forms: a zip of member files (FDA's ``ndctext.zip``), the member files themselves under
any names (delimited text), and spreadsheets (``.xlsx``, ``.xls``) with one sheet per member, in
one workbook or several. Files are mapped to members by their header (``Member.identify_by``),
never by name or position, because FDA has renamed and reordered columns over the years.

Everything here is generic over ``Source`` specs: no column of any particular source is named.
Every problem is a ``BadInput`` naming the file (``ndctext.zip!product.txt`` inside a zip,
``book.xlsx!product`` for a sheet) and, where it applies, the line, row or column.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ppstack.entities.spec import Member, Source
from ppstack.errors import BadInput
from ppstack.raw import sheets, text

TEXT_SUFFIXES = (".txt", ".tsv", ".tab", ".csv", ".psv", ".dat")
ACCEPTED = "a .zip of member files, delimited text (.txt/.tsv/.tab/.csv), .xlsx or .xls"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of legacy .xls workbooks
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class InputFile:
    """One original file exactly as delivered; ``name`` is the file name the archive keeps."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class MemberTable:
    """One member of the delivery, parsed: string columns named by the lower-cased headers."""

    member: str
    file_name: str  # the original file it came from
    source_file: str  # where inside it: "ndctext.zip!product.txt", "book.xlsx!product"
    headers: list[str]  # as in the source (stripped), in source order
    encoding: str  # "utf-8", "cp1252", ... for text; "xlsx" / "xls" for spreadsheets
    table: Any  # pyarrow.Table

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def columns(self) -> list[str]:
        return [h.lower() for h in self.headers]


@dataclass
class Delivery:
    source: Source
    files: list[InputFile]
    members: dict[str, MemberTable]


@dataclass
class _Unit:
    """A candidate member found in a file: header known, rows parsed on demand."""

    file_name: str
    label: str
    headers: list[str]
    encoding: str
    parse: Callable[[list[str]], Any]  # lower-cased column names -> pyarrow.Table
    member: Member | None = None


def read_delivery(source: Source, files: Sequence[InputFile]) -> Delivery:
    """Parse and check every member completely; nothing is returned unless all of it is valid."""
    if not files:
        raise BadInput(f"no files given for {source.name}")
    names = [f.name for f in files]
    for n in names:
        if not n or n.startswith(".") or "/" in n or "\\" in n:
            raise BadInput(f"{n!r}: not an archivable file name (empty, hidden or with a path "
                           "separator); rename the file")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"two files share the name {', '.join(dupes)}; the archive keeps original "
                       "names")
    units: list[_Unit] = []
    for f in files:
        units.extend(_units(source, f.name, f.name, f.data, nested=False))
    for unit in units:
        unit.member = _identify(source, unit)
        _check_required(unit)
    by_member: dict[str, _Unit] = {}
    for unit in units:
        assert unit.member is not None
        other = by_member.get(unit.member.name)
        if other is not None:
            raise BadInput(
                f"two files for member {unit.member.name!r}: {other.label} and {unit.label}; "
                "a delivery has exactly one file (or sheet) per member"
            )
        by_member[unit.member.name] = unit
    missing = [m for m in source.members if m.name not in by_member]
    if missing:
        had = ", ".join(u.label for u in units)
        wants = "; ".join(f"{m.name} (a header with {m.identify_by})" for m in missing)
        raise BadInput(f"{source.name} delivery lacks member(s) {wants}; the delivery had: {had}")
    members = {}
    for m in source.members:
        unit = by_member[m.name]
        table = unit.parse([h.lower() for h in unit.headers])
        members[m.name] = MemberTable(m.name, unit.file_name, unit.label, unit.headers,
                                      unit.encoding, table)
    return Delivery(source, list(files), members)


def _kind(name: str, data: bytes) -> str:
    """What a file is, by its content first (names lie), then by its suffix."""
    if data.startswith(_OLE2):
        return "xls"
    if data.startswith(_ZIP):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "xlsx" if "xl/workbook.xml" in z.namelist() else "zip"
        except zipfile.BadZipFile:
            raise BadInput(f"{name}: looks like a zip file but cannot be opened "
                           "(truncated?)") from None
    suffix = Path(name).suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in (".zip", ".xlsx", ".xls"):
        raise BadInput(f"{name}: the name says {suffix} but the content is not a {suffix} file")
    raise BadInput(f"{name}: unknown file type {suffix or '(no suffix)'!r}; accepted: {ACCEPTED}")


def _units(source: Source, file_name: str, label: str, data: bytes, nested: bool) -> list[_Unit]:
    kind = _kind(label, data)
    if kind == "zip":
        if nested:
            raise BadInput(f"{label}: a zip inside a zip is not accepted")
        return _zip_units(source, file_name, label, data)
    if kind in ("xlsx", "xls"):
        found = sheets.read_xlsx(data, label) if kind == "xlsx" else sheets.read_xls(data, label)
        if not found:
            raise BadInput(f"{label}: the workbook is empty (no sheet has any cells)")
        return [_sheet_unit(source, file_name, s, kind) for s in found]
    return [_text_unit(source, file_name, label, data)]


def _zip_units(source: Source, file_name: str, label: str, data: bytes) -> list[_Unit]:
    units = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = [i for i in z.infolist()
                   if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
        if not entries:
            raise BadInput(f"{label}: the zip has no files; expected members "
                           f"{', '.join(m.name for m in source.members)}")
        for info in entries:
            inner = f"{label}!{info.filename}"
            try:
                content = z.read(info)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as e:
                raise BadInput(f"{inner}: cannot be extracted ({e})") from None
            units.extend(_units(source, file_name, inner, content, nested=True))
    return units


def _text_unit(source: Source, file_name: str, label: str, data: bytes) -> _Unit:
    if text.is_blank(data):
        raise BadInput(f"{label}: the file is empty")
    decoded = text.decode(data, label, source.encoding)
    headers, start = text.split_header(decoded.utf8, label, source.delimiter)

    def parse(columns: list[str]) -> Any:
        return text.parse_rows(decoded.utf8, start, columns, label, source.delimiter)

    return _Unit(file_name, label, headers, decoded.encoding, parse)


def _sheet_unit(source: Source, file_name: str, sheet: sheets.Sheet, kind: str) -> _Unit:
    text.check_delimiter(sheet.header, sheet.label, source.delimiter)
    if not sheet.rows:
        raise BadInput(f"{sheet.label}: row 1 is a header ({len(sheet.header)} columns) but there "
                       "are no data rows")

    def parse(columns: list[str]) -> Any:
        return sheets.sheet_table(sheet, columns)

    return _Unit(file_name, sheet.label, sheet.header, kind, parse)


def _identify(source: Source, unit: _Unit) -> Member:
    upper = {h.upper() for h in unit.headers}
    matches = [m for m in source.members if m.identify_by.upper() in upper]
    if len(matches) == 1:
        return matches[0]
    expected = ", ".join(f"{m.identify_by} ({m.name})" for m in source.members)
    if not matches:
        shown = ", ".join(unit.headers[:8]) + (", ..." if len(unit.headers) > 8 else "")
        raise BadInput(
            f"{unit.label}: the header matches no member of {source.name} (expected a column "
            f"{expected}); the header was: {shown}"
        )
    raise BadInput(f"{unit.label}: the header matches several members of {source.name}: {expected}")


def _check_required(unit: _Unit) -> None:
    assert unit.member is not None
    seen: dict[str, int] = {}
    for i, h in enumerate(unit.headers, start=1):
        if not h:
            raise BadInput(f"{unit.label}: header column {i} has no name")
        key = h.upper()
        if key in seen:
            raise BadInput(f"{unit.label}: column {h!r} appears twice in the header "
                           f"(columns {seen[key]} and {i})")
        seen[key] = i
    missing = [c for c in unit.member.required if c.upper() not in seen]
    if missing:
        raise BadInput(
            f"{unit.label} ({unit.member.name}): missing required column(s) {', '.join(missing)}"
        )
