"""One output convention for every command (docs/cli.md#output).

stdout carries data only; progress and notes go to stderr. A command that prints rows (a query,
a listing) takes ``@format_option()`` and prints with ``emit_rows``: ``table`` (aligned text, the
default), ``json`` (one array of row objects) or ``csv`` (a header row, then the rows). A
command that prints one record (a report) takes ``@format_option(rows=False)`` and prints with
``emit_record`` or ``emit_json``: ``table`` or ``json``. Either way ``--format json`` puts one
valid JSON document on stdout and nothing else, so ``ppstack … --format json | jq`` always works.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import click

ROW_FORMATS = ("table", "json", "csv")
RECORD_FORMATS = ("table", "json")

F = TypeVar("F", bound=Callable[..., Any])


def format_param(rows: bool = True, help: str | None = None) -> click.Option:
    """The shared ``--format`` option as a parameter (for commands built from a param list)."""
    choices = ROW_FORMATS if rows else RECORD_FORMATS
    text = help or ("Output format on stdout: " + ", ".join(choices)
                    + ("; json is an array of row objects." if rows else "."))
    return click.Option(["--format", "fmt"], type=click.Choice(choices), default="table",
                        show_default=True, help=text)


def format_option(rows: bool = True, help: str | None = None) -> Callable[[F], F]:
    """The shared ``--format`` option as a decorator; the command receives it as ``fmt``."""

    def decorate(f: F) -> F:
        params = f.__dict__.setdefault("__click_params__", [])
        params.append(format_param(rows, help))
        return f

    return decorate


def json_value(value: Any) -> Any:
    """A value JSON can carry: dates and times as ISO text, decimals as text, bytes as hex."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def text_value(value: Any) -> str:
    """A value as a table or CSV cell: NULL is empty, lists and maps are JSON."""
    if value is None:
        return ""
    value = json_value(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
                align: str = "left") -> str:
    """Rows as an aligned text table, CSV (header row) or a JSON array of row objects."""
    if fmt == "json":
        objs = [{c: json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        return json.dumps(objs, indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[text_value(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[text_value(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(vals: Sequence[str]) -> str:
        pad = str.rjust if align == "right" else str.ljust
        return "  ".join(pad(v, w) for v, w in zip(vals, widths, strict=True)).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def emit_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]],
              fmt: str, align: str = "left") -> None:
    """Print rows (tuples in column order, or dicts keyed by column) in ``fmt``."""
    tuples = [tuple(r.get(c) for c in columns) if isinstance(r, Mapping) else tuple(r)
              for r in rows]
    click.echo(format_rows(columns, tuples, fmt, align))


def _json_default(value: Any) -> Any:
    converted = json_value(value)
    return str(value) if converted is value else converted


def emit_json(data: Any) -> None:
    """One JSON document on stdout (keys sorted, so output is stable)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=_json_default,
                          ensure_ascii=False))


def emit_record(data: Mapping[str, Any], fmt: str,
                table: Callable[[], str] | None = None) -> None:
    """One record: JSON, CSV (a header row and one row), or ``table()`` (a report) /
    ``key  value`` lines when there is none."""
    if fmt == "json":
        emit_json(data)
        return
    if fmt == "csv":
        emit_rows(list(data), [data], fmt)
        return
    if table is not None:
        click.echo(table())
        return
    width = max((len(k) for k in data), default=0)
    for k, v in data.items():
        click.echo(f"{k:<{width}}  {text_value(v)}")
