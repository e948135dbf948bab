"""The local stand-in for S3 Tables: real Iceberg tables in a pyiceberg SQL catalog (SQLite).

Writes follow Athena's contract: one statement = at most one snapshot, and a statement that
changes nothing commits nothing. Reads are ``merge_on_read.Scan`` plans of one snapshot (its
data and delete files) that DuckDB reads directly, so each statement sees the snapshot that is
current when it starts, including a commit from another process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlglot import exp

from ppstack.engine.merge_on_read import Scan
from ppstack.errors import EngineError
from ppstack.layout import PARQUET_ROW_GROUP_ROWS

# Athena DDL type -> Iceberg primitive type name (built lazily: pyiceberg is a heavy import).
_ICEBERG_TYPES = {
    exp.DataType.Type.TEXT: "StringType",
    exp.DataType.Type.VARCHAR: "StringType",
    exp.DataType.Type.CHAR: "StringType",
    exp.DataType.Type.DATE: "DateType",
    exp.DataType.Type.TIMESTAMP: "TimestampType",
    exp.DataType.Type.TIMESTAMPTZ: "TimestamptzType",
    exp.DataType.Type.BOOLEAN: "BooleanType",
    exp.DataType.Type.INT: "IntegerType",
    exp.DataType.Type.SMALLINT: "IntegerType",
    exp.DataType.Type.TINYINT: "IntegerType",
    exp.DataType.Type.BIGINT: "LongType",
    exp.DataType.Type.DOUBLE: "DoubleType",
    exp.DataType.Type.FLOAT: "FloatType",
    exp.DataType.Type.BINARY: "BinaryType",
    exp.DataType.Type.VARBINARY: "BinaryType",
}

# Athena partition transforms (``month(col)``, ``bucket(16, col)``) -> pyiceberg transform classes.
_TRANSFORMS: dict[type[exp.Expr], str] = {
    exp.Year: "YearTransform",
    exp.Month: "MonthTransform",
    exp.Day: "DayTransform",
    exp.Hour: "HourTransform",
}


def iceberg_type(dtype: exp.DataType) -> Any:
    """Map a parsed Athena column type to a pyiceberg type; EngineError when there is none."""
    from pyiceberg import types as it

    if dtype.this == exp.DataType.Type.DECIMAL:
        params = [int(p.name) for p in dtype.expressions]
        precision, scale = (params + [38, 0][len(params):])[:2] if params else (38, 0)
        return it.DecimalType(precision, scale)
    name = _ICEBERG_TYPES.get(dtype.this)
    if name is None:
        raise EngineError(f"no Iceberg type for column type {dtype.sql('athena')}")
    return getattr(it, name)()


def build_schema(columns: list[tuple[str, exp.DataType]]) -> Any:
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    return Schema(*[NestedField(i, name, iceberg_type(t), required=False)
                    for i, (name, t) in enumerate(columns, start=1)])


def build_partition_spec(schema: Any, partitioned_by: list[exp.Expression]) -> Any:
    """``PARTITIONED BY (col, month(col), bucket(n, col), truncate(n, col))`` -> PartitionSpec."""
    from pyiceberg import transforms as tr
    from pyiceberg.partitioning import PartitionField, PartitionSpec

    fields = []
    transform: tr.Transform[Any, Any]
    for i, node in enumerate(partitioned_by):
        column = node if isinstance(node, exp.Column) else node.find(exp.Column)
        col = node.name if isinstance(node, exp.Identifier) else (column.name if column else "")
        if isinstance(node, (exp.Identifier, exp.Column)):
            transform, suffix = tr.IdentityTransform(), ""
        elif isinstance(node, exp.PartitionedByBucket):
            transform, suffix = tr.BucketTransform(int(node.expression.name)), "_bucket"
        elif isinstance(node, exp.PartitionByTruncate):
            transform, suffix = tr.TruncateTransform(int(node.expression.name)), "_trunc"
        elif type(node) in _TRANSFORMS:
            transform = getattr(tr, _TRANSFORMS[type(node)])()
            suffix = "_" + type(node).__name__.lower()
        else:
            raise EngineError(f"unsupported partition transform {node.sql('athena')}")
        if not col:
            raise EngineError(f"partition transform {node.sql('athena')} names no column")
        if suffix and not _has_pyiceberg_core():
            # Refuse now rather than create a table that every later INSERT fails to write.
            raise EngineError(f"partition transform {node.sql('athena')} needs the pyiceberg-core "
                              "package locally; partition by a column (identity) or install it")
        field = schema.find_field(col)
        fields.append(PartitionField(source_id=field.field_id, field_id=1000 + i,
                                     transform=transform, name=f"{col}{suffix}"))
    return PartitionSpec(*fields)


def _has_pyiceberg_core() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyiceberg_core") is not None


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    committed_at: datetime
    operation: str
    summary: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "committed_at": self.committed_at,
                "operation": self.operation, "summary": self.summary}


class IcebergStore:
    """The catalog (opened once per engine) and the reads and writes of its tables."""

    def __init__(self, warehouse: Path) -> None:
        from ppstack.engine.sqlite_catalog import SqliteCatalog

        warehouse.mkdir(parents=True, exist_ok=True)
        # pyiceberg's SqlCatalog schema in one SQLite file; loads and commits without
        # SQLAlchemy (engine.sqlite_catalog), everything else through SqlCatalog itself.
        self.catalog = SqliteCatalog("ppstack", warehouse / "catalog.db", warehouse)

    # ---- catalog ----
    def exists(self, namespace: str, name: str) -> bool:
        return self.catalog.table_exists((namespace, name))

    def load(self, namespace: str, name: str) -> Any:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table((namespace, name))
        except NoSuchTableError:
            raise EngineError(f"Iceberg table {namespace}.{name} does not exist") from None

    def create(self, namespace: str, name: str, columns: list[tuple[str, exp.DataType]],
               partitioned_by: list[exp.Expression], properties: dict[str, str],
               if_not_exists: bool) -> None:
        from pyiceberg.exceptions import TableAlreadyExistsError
        from pyiceberg.table import TableProperties

        if self.exists(namespace, name):  # first: every batch re-runs its IF NOT EXISTS DDL
            if if_not_exists:
                return
            raise EngineError(f"table {namespace}.{name} already exists")
        self.catalog.create_namespace_if_not_exists(namespace)
        # Data files in row groups of 32,768 rows (pyiceberg's default is one group of up to
        # a million), so DuckDB reads a full-table file, such as the first load's 180,000 rows,
        # on every core: the MERGE's copy of the rows it may close takes half the time. A
        # setting of the local writer only; on AWS, Athena sizes its own files.
        properties = {TableProperties.PARQUET_ROW_GROUP_LIMIT: str(PARQUET_ROW_GROUP_ROWS),
                      **properties}
        schema = build_schema(columns)
        spec = build_partition_spec(schema, partitioned_by)
        try:
            self.catalog.create_table((namespace, name), schema=schema, partition_spec=spec,
                                      properties=properties)
        except TableAlreadyExistsError:
            if not if_not_exists:
                raise EngineError(f"table {namespace}.{name} already exists") from None

    def add_columns(self, namespace: str, name: str,
                    columns: list[tuple[str, exp.DataType]]) -> None:
        """Iceberg schema evolution: new optional columns at the end, one metadata commit."""
        table = self.load(namespace, name)
        with table.update_schema() as update:
            for col, dtype in columns:
                update.add_column(col, iceberg_type(dtype))

    def rename(self, namespace: str, name: str, new_name: str) -> None:
        """Rename within the namespace (the catalog entry moves; data and snapshots stay)."""
        self.catalog.rename_table((namespace, name), (namespace, new_name))

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.load(namespace, name).properties)

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        with self.load(namespace, name).transaction() as tx:
            tx.set_properties(properties)

    def drop(self, namespace: str, name: str) -> None:
        self.catalog.drop_table((namespace, name))

    def tables(self, namespace: str) -> list[str]:
        from pyiceberg.exceptions import NoSuchNamespaceError

        try:
            return sorted(ident[-1] for ident in self.catalog.list_tables(namespace))
        except NoSuchNamespaceError:
            return []

    def namespaces(self) -> list[str]:
        return sorted(ns[0] for ns in self.catalog.list_namespaces())

    # ---- reads ----
    def snapshot_id_as_of(self, table: Any, timestamp_ms: int) -> int:
        snap = table.snapshot_as_of_timestamp(timestamp_ms)
        if snap is None:
            when = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
            raise EngineError(f"no snapshot of {'.'.join(table.name())} at or before "
                              f"{when.isoformat()}")
        return snap.snapshot_id

    def scan(self, table: Any, snapshot_id: int | None = None) -> Scan:
        """The files and schema of ``snapshot_id`` (default: current; a table without a
        snapshot has no files) for DuckDB to read."""
        if snapshot_id is None:
            # The current table reads in the current schema: columns added since its snapshot
            # (schema evolution makes no snapshot) read NULL for the rows written before.
            current = table.current_snapshot()
            return Scan.of(table, current.snapshot_id if current is not None else None,
                           schema=table.schema())
        if table.snapshot_by_id(snapshot_id) is None:
            ns, name = table.name()[-2], table.name()[-1]
            raise EngineError(f"{ns}.{name} has no snapshot {snapshot_id}")
        return Scan.of(table, snapshot_id)

    def scan_of_nothing(self, table: Any) -> Scan:
        """A scan with no files in the table's current schema (an empty, typed relation)."""
        return Scan.of(table, None)

    def snapshots(self, namespace: str, name: str) -> list[SnapshotInfo]:
        table = self.load(namespace, name)
        out = []
        for entry in table.history():
            snap = table.snapshot_by_id(entry.snapshot_id)
            if snap is None:
                continue
            summary = dict(snap.summary.additional_properties) if snap.summary else {}
            op = snap.summary.operation.value if snap.summary else ""
            out.append(SnapshotInfo(snap.snapshot_id,
                                    datetime.fromtimestamp(snap.timestamp_ms / 1000, tz=UTC),
                                    op, summary))
        return out

    # ---- writes (each is exactly one snapshot) ----
    def append(self, table: Any, rows: Any) -> int | None:
        """Append ``rows`` in one snapshot; returns the new snapshot id (None when no rows)."""
        if rows.num_rows == 0:
            return None
        rows = conform(rows, table.schema())
        try:
            with table.transaction() as tx:
                tx.append(rows)
        except Exception as e:
            raise _commit_error(table, e) from e
        return table.current_snapshot().snapshot_id


def arrow_schema(schema: Any) -> Any:
    """The plain Arrow schema of an Iceberg schema (no field-id metadata, µs tz-naive
    timestamps)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, t.type)
                      for f, t in zip(schema.fields, schema.as_arrow(), strict=True)])


def conform(data: Any, schema: Any) -> Any:
    """Select and cast ``data`` to the Iceberg schema's columns and Arrow types."""
    target = arrow_schema(schema)
    if data.schema.equals(target):
        return data
    import pyarrow as pa

    for f in target:
        if f.name not in data.column_names:
            # a column added after these rows were written (schema evolution): NULL for them
            data = data.append_column(f.name, pa.nulls(data.num_rows, f.type))
    try:
        return data.select(target.names).cast(target)
    except Exception as e:
        raise EngineError(f"rows do not fit the table schema: {e}") from e


def _commit_error(table: Any, e: Exception) -> EngineError:
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    name = ".".join(table.name()[-2:])
    # pyiceberg retries a lost commit; an overwrite whose input changed meanwhile then fails
    # validation. Either way the statement is refused and nothing was committed.
    if isinstance(e, (CommitFailedException, ValidationException)):
        return EngineError(f"concurrent commit on {name}: another writer changed it; run the "
                           f"statement again ({e})")
    if isinstance(e, EngineError):
        return e
    return EngineError(f"commit to {name} failed: {e}")
