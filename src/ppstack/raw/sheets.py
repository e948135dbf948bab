"""Spreadsheet forms (.xlsx through openpyxl, .xls through xlrd): each sheet becomes a text grid.

Why text: the rendition promises every column as a string exactly as in the source, and a
spreadsheet may have typed some cells. Typed cells are rendered the way the text files spell
such values: whole numbers without ``.0`` (``20190429``), other numbers in Python's shortest
round-trip form, booleans ``TRUE``/``FALSE``, date cells as ISO ``YYYY-MM-DD`` (with the time when
it is not midnight). Empty cells are ``''``. Text cells are kept verbatim, spaces included.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from ppstack.errors import BadInput


@dataclass
class Sheet:
    """One non-empty sheet: header cells and data rows as text, trailing empty rows dropped."""

    label: str  # "book.xlsx!product"
    header: list[str]
    rows: list[list[str]]
    first_row: int = 2  # sheet row number of rows[0], for messages


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _grid(label: str, rows: Iterable[list[Any]]) -> Sheet | None:
    """Text rows with trailing empty cells and rows trimmed; ``None`` for an empty sheet."""
    text_rows = [[cell_text(v) for v in row] for row in rows]
    while text_rows and not any(text_rows[-1]):
        text_rows.pop()
    if not text_rows:
        return None
    header = list(text_rows[0])
    while header and not header[-1]:
        header.pop()
    return Sheet(label=label, header=[h.strip() for h in header], rows=text_rows[1:])


def read_xlsx(data: bytes, name: str) -> list[Sheet]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged file
        raise BadInput(f"{name}: not a readable .xlsx workbook ({e})") from None
    try:
        sheets = []
        for ws in book.worksheets:
            grid = _grid(f"{name}!{ws.title}", (list(r) for r in ws.iter_rows(values_only=True)))
            if grid is not None:
                sheets.append(grid)
        return sheets
    finally:
        book.close()


def read_xls(data: bytes, name: str) -> list[Sheet]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as e:  # xlrd.XLRDError and struct errors for a damaged file
        raise BadInput(f"{name}: not a readable .xls workbook ({e})") from None
    sheets = []
    for index in range(book.nsheets):
        ws = book.sheet_by_index(index)
        label = f"{name}!{ws.name}"
        grid = _grid(label, _xls_rows(ws, book.datemode, label))
        if grid is not None:
            sheets.append(grid)
    return sheets


def _xls_rows(ws: Any, datemode: int, label: str) -> Iterator[list[Any]]:
    import xlrd

    for r in range(ws.nrows):
        row: list[Any] = []
        for c, cell in enumerate(ws.row(r)):
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(xlrd.xldate_as_datetime(cell.value, datemode))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                row.append(bool(cell.value))
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                code = xlrd.error_text_from_code.get(cell.value, cell.value)
                raise BadInput(f"{label}: row {r + 1}, column {c + 1} holds the error value {code}")
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                row.append(None)
            else:
                row.append(cell.value)
        yield row


def sheet_table(sheet: Sheet, columns: list[str]):  # -> pa.Table
    """Rows padded to the header width (a spreadsheet does not store trailing empty cells)."""
    import pyarrow as pa

    width = len(columns)
    rows = sheet.rows
    for i, row in enumerate(rows):
        if len(row) > width and any(row[width:]):
            raise BadInput(
                f"{sheet.label}: row {sheet.first_row + i} has values in {len(row)} columns but "
                "the "
                f"header has {width}"
            )
        if not any(row):
            raise BadInput(f"{sheet.label}: row {sheet.first_row + i} is empty (a data row was "
                           "expected)")
    cols = [[(row[j] if j < len(row) else "") for row in rows] for j in range(width)]
    return pa.table([pa.array(c, type=pa.string()) for c in cols], names=columns)
