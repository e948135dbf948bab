"""Delimited text members: decoding, header checks and a fast, exact parse into string columns.

Why pyarrow.csv: the full FDA files are 76 MB and the archive budget is about a second, which a
Python split per field cannot meet. It is configured so that it keeps the text exactly (no
quoting, no escapes, no trimming, empty fields are ``''`` never NULL). Whatever pyarrow would
tolerate silently (blank lines, a bare CR, rows of the wrong width) is checked here first or
re-checked line by line, so every error still names the file and the line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from ppstack.errors import BadInput

_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(rb"\S")
# Delimiters a misdirected export typically uses instead of the source's own.
_OTHER_DELIMITERS = {",": "comma", "|": "pipe", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True)
class DecodedText:
    """UTF-8 bytes of a text member (BOM removed) and the encoding it was published in."""

    utf8: bytes
    encoding: str


def is_blank(data: bytes, start: int = 0) -> bool:
    """Nothing but whitespace from ``start`` on (without copying a 40 MB buffer to find out)."""
    return _NON_SPACE.search(data, start) is None


def decode(data: bytes, label: str, fallback: str) -> DecodedText:
    """UTF-8 when the bytes are valid UTF-8, else the source's declared encoding, strictly.

    Strict matters: cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined, and a silent
    replacement character in the archive's rendition would be a lie about the source.
    """
    skip = len(_BOM) if data.startswith(_BOM) else 0
    body = data[skip:] if skip else data
    if body.isascii():
        return DecodedText(body, "utf-8")
    try:
        body.decode("utf-8")
        return DecodedText(body, "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(body.decode(fallback).encode("utf-8"), fallback)
    except UnicodeDecodeError as e:
        offset = skip + e.start
        line = data.count(b"\n", 0, offset) + 1
        raise BadInput(
            f"{label}: line {line}, byte offset {offset}: byte 0x{data[offset]:02X} cannot be "
            f"decoded (the file is not UTF-8, and the byte is undefined in {fallback})"
        ) from None


def split_header(utf8: bytes, label: str, delimiter: str) -> tuple[list[str], int]:
    """Header names (stripped) and the offset where data rows begin.

    Raises BadInput for an empty file, a header without data rows and a wrong delimiter.
    """
    if is_blank(utf8):
        raise BadInput(f"{label}: the file is empty")
    end = utf8.find(b"\n")
    header_bytes = utf8 if end < 0 else utf8[:end]
    start = len(utf8) if end < 0 else end + 1
    header = header_bytes.rstrip(b"\r").decode("utf-8")
    names = [h.strip() for h in header.split(delimiter)]
    check_delimiter(names, label, delimiter)
    if is_blank(utf8, start):
        raise BadInput(f"{label}: line 1 is a header ({len(names)} columns) but there are no data "
                       "rows")
    return names, start


def check_delimiter(names: list[str], label: str, delimiter: str) -> None:
    """A one-column header that contains another delimiter means the file was exported wrongly."""
    if len(names) != 1:
        return
    for other, word in _OTHER_DELIMITERS.items():
        if other != delimiter and names[0].count(other) >= 1:
            expected = _OTHER_DELIMITERS.get(delimiter, repr(delimiter))
            raise BadInput(
                f"{label}: line 1 looks {word}-separated ({names[0].count(other)} {word}s, "
                f"no {expected}s); this source must be {expected}-delimited"
            )


def parse_rows(utf8: bytes, start: int, columns: list[str], label: str,
               delimiter: str):  # -> pa.Table
    """Data rows as a table of string columns named ``columns``; every row checked for width."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(memoryview(utf8)[start:]),
        read_options=pacsv.ReadOptions(column_names=columns, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False, escape_char=False, double_quote=False,
            newlines_in_values=False, ignore_empty_lines=True, invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )
    # pyarrow skips blank lines and also ends a line at a bare CR; both show up as a row count
    # that differs from the LF count, and only then is the file re-read line by line.
    lines = utf8.count(b"\n", start) + (0 if utf8.endswith(b"\n") else 1)
    if utf8.count(b"\r", start) not in (0, utf8.count(b"\n", start)):
        _check_line_breaks(utf8, label)  # mixed CRLF/LF is fine; a bare CR is not
    if invalid or table.num_rows != lines:
        _check_line_breaks(utf8, label)
        _raise_first_bad_line(utf8, label, delimiter, len(columns))
        raise BadInput(f"{label}: {lines} data lines but {table.num_rows} rows parsed")
    return table


def _check_line_breaks(utf8: bytes, label: str) -> None:
    """Lines end in CRLF or LF. A bare CR or a blank line is refused, not read as a row.

    (Only reached when the fast parse disagreed with the line count.)
    """
    if utf8.count(b"\r") != utf8.count(b"\r\n"):
        pos = 0
        while True:
            pos = utf8.index(b"\r", pos)
            if utf8[pos + 1:pos + 2] != b"\n":
                break
            pos += 1
        line = utf8.count(b"\n", 0, pos) + 1
        raise BadInput(f"{label}: line {line} contains a carriage return that does not end "
                       "the line")
    for blank in (b"\n\n", b"\n\r\n"):
        pos = utf8.find(blank)
        if pos >= 0:
            line = utf8.count(b"\n", 0, pos) + 2
            raise BadInput(f"{label}: line {line} is blank (a data row was expected)")


def _raise_first_bad_line(utf8: bytes, label: str, delimiter: str, width: int) -> None:
    """The slow path, only on failure: find the first line whose field count is wrong."""
    text = utf8.decode("utf-8")
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.removesuffix("\r").count(delimiter) + 1
        if fields != width and (line or number <= text.count("\n")):
            raise BadInput(
                f"{label}: line {number} has {fields} fields but the header has {width}"
            )
