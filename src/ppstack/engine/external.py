"""External (Hive/Parquet) tables read and written the way Athena does, on the local object store.

Athena reads an external table by listing the objects under its location at query time; with an
injected partition projection it lists only the prefixes named by ``storage.location.template``
for the key values the query pins with an equality. The partition value comes from the path, not
from the file, and Parquet columns are matched by name (missing ones read as NULL, extra ones are
ignored). This module reproduces that with DuckDB ``read_parquet`` over the files that exist now.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from ppstack.engine.registry import ExternalTable
from ppstack.errors import EngineError
from ppstack.layout import PARQUET_ROW_GROUP_ROWS
from ppstack.sql import literal

if TYPE_CHECKING:
    import pyarrow as pa

_S3 = re.compile(r"^s3a?://([^/]+)/?(.*)$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@functools.cache
def athena_to_duckdb_type(athena_type: str) -> str:
    """``string`` -> ``VARCHAR``, ``decimal(10,2)`` -> ``DECIMAL(10, 2)``: via sqlglot, not by
    hand. Cached: a daily batch binds its tables' few column types about 240 times, and each
    sqlglot parse of a type costs about 0.25 ms (60 ms a batch)."""
    return exp.DataType.build(athena_type, dialect="athena").sql("duckdb")


# Glue type names of Arrow types, by the ``pyarrow.types`` predicate that recognises them; the
# first match wins (int8 before the general is_integer, float32 before is_floating).
_GLUE_TYPES = (
    (("is_string", "is_large_string", "is_string_view"), "string"),
    (("is_date",), "date"),
    (("is_timestamp",), "timestamp"),
    (("is_boolean",), "boolean"),
    (("is_int8",), "tinyint"),
    (("is_int16",), "smallint"),
    (("is_int32",), "int"),
    (("is_integer",), "bigint"),
    (("is_float32",), "float"),
    (("is_floating",), "double"),
    (("is_binary", "is_large_binary"), "binary"),
)


def arrow_to_athena_type(arrow_type: pa.DataType) -> str:
    """The Glue column type for a Parquet/Arrow column (used to register CTAS output)."""
    import pyarrow as pa

    t = arrow_type
    for predicates, name in _GLUE_TYPES:
        if any(getattr(pa.types, p)(t) for p in predicates):
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{arrow_to_athena_type(t.value_type)}>"
    raise EngineError(f"no Glue type for Parquet column type {t}")


@dataclass(frozen=True)
class ObjectRoot:
    """Maps ``s3://<bucket>/<key>`` to ``<root>/<bucket>/<key>`` (same layout as storage.local)."""

    root: Path

    def path(self, uri: str) -> Path:
        m = _S3.match(uri)
        if not m:
            raise EngineError(f"location must be an s3:// URI, not {uri!r}")
        bucket, key = m.group(1), m.group(2)
        base = (self.root / bucket).resolve()
        p = (base / key).resolve() if key else base
        if p != base and base not in p.parents:
            raise EngineError(f"location escapes the bucket: {uri!r}")
        return p


def data_files(directory: Path) -> list[Path]:
    """Objects directly under a prefix that Athena would read: not ``_``/``.``-prefixed
    (markers, temp files)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(directory / n for n in names
                  if not n.startswith(("_", ".")) and (directory / n).is_file())


def has_any_file(directory: Path) -> bool:
    """True if anything but temp files lies anywhere under ``directory``
    (HIVE_PATH_ALREADY_EXISTS check)."""
    if not directory.exists():
        return False
    for _dirpath, _dirs, files in os.walk(directory):
        if any(not f.startswith(".tmp-") for f in files):
            return True
    return False


def partition_dirs(table: ExternalTable, objects: ObjectRoot,
                   pinned: dict[str, list[str]] | None) -> list[tuple[dict[str, str], Path]]:
    """The (partition values, directory) pairs to read.

    ``pinned`` maps partition keys to the values the query fixes with equalities; keys it lacks
    are enumerated from the directories that exist (slower, but still correct).
    """
    keys = [k for k, _t in table.partition_keys]
    if not keys:
        return [({}, objects.path(table.location))]
    template = table.template or (table.location.rstrip("/") + "/"
                                  + "/".join(f"{k}=${{{k}}}" for k in keys) + "/")
    named = set(_PLACEHOLDER.findall(template))
    if named != set(keys):
        raise EngineError(
            f"storage.location.template of {table.database}.{table.name} must use exactly the "
            f"partition keys {keys}, it uses {sorted(named)}")
    pinned = pinned or {}
    if all(k in pinned for k in keys):
        combos: list[dict[str, str]] = [{}]
        for k in keys:
            combos = [{**c, k: v} for c in combos for v in pinned[k]]
        out = []
        for combo in combos:
            if any(not v or "/" in v or v in (".", "..") for v in combo.values()):
                continue  # such a value can never name a partition prefix
            uri = _fill(template, combo)
            out.append((combo, objects.path(uri)))
        return out
    return _enumerate_partitions(template, keys, objects, pinned)


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``${key}`` replaced by its value."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _enumerate_partitions(template: str, keys: list[str], objects: ObjectRoot,
                          pinned: dict[str, list[str]]) -> list[tuple[dict[str, str], Path]]:
    # Everything before the first placeholder is a fixed prefix; glob the rest.
    first = template.index("${")
    head = template[:first]
    head_dir = head if head.endswith("/") else head.rsplit("/", 1)[0] + "/"
    rest = template[len(head_dir):].rstrip("/")
    base = objects.path(head_dir)
    if not base.is_dir():
        return []
    glob = _PLACEHOLDER.sub("*", rest)
    escaped = re.escape(rest).replace(r"\$\{", "${").replace(r"\}", "}")
    regex = re.compile("^" + _PLACEHOLDER.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", escaped) + "$")
    out = []
    for d in sorted(base.glob(glob)):
        if not d.is_dir():
            continue
        rel = d.relative_to(base).as_posix()
        m = regex.match(rel)
        if not m:
            continue
        values = m.groupdict()
        if any(k in pinned and values[k] not in pinned[k] for k in keys):
            continue
        out.append((values, d))
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_sql(table: ExternalTable, objects: ObjectRoot, pinned: dict[str, list[str]] | None) -> str:
    """A DuckDB SELECT returning the table's declared columns (cast) from the files present now."""
    import pyarrow.parquet as pq

    declared = [(n, athena_to_duckdb_type(t)) for n, t in table.columns]
    keys = [(n, athena_to_duckdb_type(t)) for n, t in table.partition_keys]
    parts = []
    for values, directory in partition_dirs(table, objects, pinned):
        files = data_files(directory)
        if not files:
            continue
        present: dict[str, str] = {}
        for f in files:
            try:
                schema = pq.read_schema(f)
            except Exception as e:  # not Parquet: Athena fails the query too
                raise EngineError(f"cannot read {f.name} of {table.database}.{table.name} as "
                                  f"Parquet: {e}") from e
            for name in schema.names:
                present.setdefault(name.lower(), name)
        cols = []
        for name, dtype in declared:
            src = present.get(name.lower())
            value = f"CAST({_ident(src)} AS {dtype})" if src else f"CAST(NULL AS {dtype})"
            cols.append(f"{value} AS {_ident(name)}")
        for name, dtype in keys:
            cols.append(f"CAST({literal(values[name])} AS {dtype}) AS {_ident(name)}")
        file_list = "[" + ", ".join(literal(str(f)) for f in files) + "]"
        parts.append(f"SELECT {', '.join(cols)} FROM read_parquet({file_list}, "
                     "union_by_name = true, hive_partitioning = false)")
    if not parts:
        cols = [f"CAST(NULL AS {dtype}) AS {_ident(name)}" for name, dtype in declared + keys]
        return f"SELECT {', '.join(cols)} WHERE false"
    return " UNION ALL ".join(parts)


def new_file_name() -> str:
    """Unique object names, so every INSERT/CTAS adds a file and never replaces one (as on
    Athena)."""
    return f"part-00000-{uuid.uuid4().hex}.parquet"


def write_parquet_atomically(con: object, select_sql: str, directory: Path,
                             compression: str) -> int:
    """Run ``select_sql`` into one Parquet file under ``directory``; returns the row count.

    DuckDB writes a ``.tmp-`` file (ignored by readers) that is renamed into place only after
    the write completed, so a failed statement leaves nothing in the prefix. Row groups of
    ``PARQUET_ROW_GROUP_ROWS``: DuckDB writes them in parallel (a full batch's 180,607 rows in
    its default groups of 122,880 kept one core idle for half the write), and later statements
    read them in parallel.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{uuid.uuid4().hex}.parquet"
    try:
        rows = con.execute(  # type: ignore[attr-defined]
            f"COPY ({select_sql}) TO {literal(str(tmp))} "
            f"(FORMAT parquet, COMPRESSION {compression}, ROW_GROUP_SIZE {PARQUET_ROW_GROUP_ROWS})"
        ).fetchall()
        os.rename(tmp, directory / new_file_name())
    finally:
        if tmp.exists():
            tmp.unlink()
    return int(rows[0][0]) if rows else 0
