"""Row-level changes to a local Iceberg table the way Athena writes them: merge-on-read.

Athena's MERGE / UPDATE / DELETE on an Iceberg table does not rewrite the data files that hold
the changed rows: it writes position delete files (``file_path``, ``pos`` of every removed or
replaced row) and appends the new versions of updated rows as new data files, in one snapshot.
ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-update.html
ref: https://iceberg.apache.org/spec/#position-delete-files

The local engine does the same, so the cost of a batch follows the rows it changes, not the
size of the table's history: ``Scan`` reads a snapshot's live rows in DuckDB, each with the data
file and position it lives at, and ``commit_row_changes`` writes the position deletes and the
new rows as ONE snapshot. pyiceberg reads such tables natively (it applies position deletes in
scans); pyiceberg 0.12 cannot write them, so the delete manifest is written here.
``ppstack maintain`` compacts the delete files away again, as S3 Tables' automatic compaction
does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ppstack.errors import EngineError
from ppstack.sql import literal

FILE = "__file"  # index of the row's data file in ``Scan.files``
POS = "__pos"  # the row's position in that file (0-based, as position deletes count)

# Reserved field ids of the position delete file schema (Iceberg spec, "Reserved Field IDs").
_FILE_PATH_ID = 2147483546
_POS_ID = 2147483545

# Iceberg primitive type (as pyiceberg prints it) -> DuckDB type; decimal(p, s) is handled apart.
_DUCKDB_TYPES = {
    "string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ", "boolean": "BOOLEAN", "int": "INTEGER", "long": "BIGINT",
    "float": "FLOAT", "double": "DOUBLE", "binary": "BLOB", "uuid": "UUID", "time": "TIME",
}


def duckdb_type(iceberg_type: Any) -> str:
    """The DuckDB type a column of this Iceberg primitive type reads as."""
    name = str(iceberg_type)
    if name.startswith("decimal"):
        return name.upper()
    if name in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[name]
    raise EngineError(f"no local SQL type for Iceberg column type {name}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Scan:
    """One snapshot of an Iceberg table as DuckDB reads it: its data files, the position
    delete files that apply to them, and the snapshot's schema.

    DuckDB's Parquet reader maps columns by name while the table has had one schema, and by
    Iceberg field id after a schema change (so renamed or added columns read as Iceberg says);
    it reads only the columns a query uses, in parallel, without a copy in Python; the
    position deletes are a NOT IN on (file, row number).
    """

    files: tuple[Any, ...]  # pyiceberg DataFile, indexed by FILE
    deletes: tuple[str, ...]  # paths of the position delete files
    schema: Any  # pyiceberg Schema of the snapshot
    by_name: bool = False  # every data file names its columns as ``schema`` does (see ``of``)

    @classmethod
    def of(cls, table: Any, snapshot_id: int | None, schema: Any = None) -> Scan:
        """The scan of ``snapshot_id`` (None: a table without snapshots, no files), in
        ``schema`` (default: the snapshot's own, as time travel reads it)."""
        if snapshot_id is None:
            return cls((), (), schema or table.schema())
        scan = table.scan(snapshot_id=snapshot_id)
        tasks = list(scan.plan_files())
        deletes = sorted({d.file_path for task in tasks for d in task.delete_files})
        from pyiceberg.schema import make_compatible_name

        schema = schema or scan.projection()
        # A table that never changed its schema has files whose column names are the schema's:
        # pyiceberg's writer renames only what make_compatible_name changes.
        by_name = (len(table.metadata.schemas) == 1
                   and all(make_compatible_name(f.name) == f.name for f in schema.fields))
        return cls(tuple(task.file for task in tasks), tuple(deletes), schema, by_name)

    def sql(self, positions: bool = False) -> str:
        """A DuckDB SELECT of the live rows in the schema's columns (and FILE, POS when
        ``positions``): what the snapshot holds, deletes applied."""
        fields = self.schema.fields
        if not self.files:
            cols = [f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {_ident(f.name)}"
                    for f in fields]
            if positions:
                cols += [f"CAST(NULL AS INTEGER) AS {FILE}", f"CAST(NULL AS BIGINT) AS {POS}"]
            return f"SELECT {', '.join(cols)} WHERE false"
        if self.by_name:
            # Read by name, each column cast to its Iceberg type (a no-op where the file's type
            # is already that): DuckDB then estimates the scan from the files' row counts. With
            # an explicit schema it estimates ONE row and plans joins as if the table were tiny,
            # building hash tables from every column of every row.
            options = ""
            selected = ", ".join(f"CAST(d.{_ident(f.name)} AS {duckdb_type(f.field_type)}) "
                                 f"AS {_ident(f.name)}" for f in fields)
        else:
            # After a schema change, columns are matched by Iceberg field id, as Iceberg reads
            # them: renamed columns keep their data, added ones read NULL in older files.
            mapping = ", ".join(
                f"{f.field_id}: {{name: {literal(f.name)}, "
                f"type: {literal(duckdb_type(f.field_type))}, default_value: NULL}}"
                for f in fields)
            options = f"schema = MAP {{{mapping}}}, "
            selected = ", ".join(f"d.{_ident(f.name)}" for f in fields)
        # file_index and file_row_number are DuckDB's virtual columns of read_parquet: the
        # file's index in the list (= FILE) and the row's position in it (= POS). Integers: a
        # join on file names cost a daily batch's MERGE a third of its time once a week of
        # daily data and delete files had built up.
        extra = (f", CAST(d.file_index AS INTEGER) AS {FILE}, d.file_row_number AS {POS}"
                 if positions else "")
        files = ", ".join(literal(_local(f.file_path)) for f in self.files)
        sql = (f"SELECT {selected}{extra} FROM read_parquet([{files}], "
               f"{options}file_row_number = true) AS d")
        if self.deletes:
            # A position delete names its data file by location: the small delete side is
            # mapped to file indexes, and the test compares two integers per row. NOT IN, not
            # ANTI JOIN: on the one-row estimate above DuckDB built an anti-join's hash table
            # from the data side (a MERGE 0.3-0.4 s slower after four days of daily files);
            # NOT IN plans as a mark join whose hash table is the deletes, however the data
            # side is read. It never meets a NULL: the inner join keeps only mapped files, and
            # pos is required.
            listing = ", ".join(f"({i}, {literal(f.file_path)})"
                                for i, f in enumerate(self.files))
            dels = ", ".join(literal(_local(p)) for p in self.deletes)
            sql += (" WHERE (d.file_index, d.file_row_number) NOT IN ("
                    "SELECT (CAST(f.i AS UBIGINT), x.pos) "
                    f"FROM read_parquet([{dels}]) AS x JOIN (VALUES {listing}) "
                    "AS f(i, file_path) ON f.file_path = x.file_path)")
        return sql


def _local(uri: str) -> str:
    """The local file of a warehouse location, exactly as pyiceberg's file IO resolves it (it
    does not percent-decode: a home under "a b" holds its files under "a%20b")."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    return PyArrowFileIO.parse_location(uri)[2]


def commit_row_changes(table: Any, base: Scan, removed: Any, added: Any) -> int:
    """ONE snapshot: position deletes for ``removed`` (Arrow FILE, POS of rows ``base`` read)
    and ``added`` rows as new data files. Returns the new snapshot id. Fails, committing
    nothing, when another writer changed the table since ``base`` was read."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    from pyiceberg.table.snapshots import Operation

    with table.transaction() as tx:
        producer = _merge_on_read_producer(tx, table.io)
        for data_file in _position_delete_files(table, tx.table_metadata, base, removed,
                                                producer.commit_uuid):
            producer.add_delete_file(data_file)
        if added.num_rows:
            for data_file in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata, write_uuid=producer.commit_uuid,
                    df=added, io=table.io):
                producer.append_data_file(data_file)
        producer._operation = Operation.OVERWRITE  # what Athena records for a row-level change
        producer.commit()
    return int(table.current_snapshot().snapshot_id)


def _position_delete_files(table: Any, metadata: Any, base: Scan, removed: Any,
                           commit_uuid: uuid.UUID) -> list[Any]:
    """One position delete file per partition of the files that lose rows (spec: a delete file
    belongs to the partition of the data files it references), rows sorted by path, pos."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    if removed.num_rows == 0:
        return []
    by_partition: dict[tuple[int, Any], list[tuple[str, int]]] = {}
    for file_index, pos in zip(removed.column(FILE).to_pylist(), removed.column(POS).to_pylist(),
                               strict=True):
        data_file = base.files[file_index]
        key = (data_file.spec_id, data_file.partition)
        by_partition.setdefault(key, []).append((data_file.file_path, int(pos)))
    schema = pa.schema([
        pa.field("file_path", pa.string(), nullable=False,
                 metadata={b"PARQUET:field_id": str(_FILE_PATH_ID).encode()}),
        pa.field("pos", pa.int64(), nullable=False,
                 metadata={b"PARQUET:field_id": str(_POS_ID).encode()}),
    ])
    out = []
    provider = table.location_provider()
    for n, ((spec_id, partition), entries) in enumerate(by_partition.items()):
        entries.sort()
        rows = pa.table([pa.array([p for p, _ in entries], pa.string()),
                         pa.array([i for _, i in entries], pa.int64())], schema=schema)
        path = provider.new_data_location(f"{commit_uuid}-deletes-{n:05d}.parquet")
        output = table.io.new_output(path)
        with output.create(overwrite=False) as stream:
            pq.write_table(rows, stream, compression="zstd")
        out.append(DataFile.from_args(
            content=DataFileContent.POSITION_DELETES, file_path=path,
            file_format=FileFormat.PARQUET, partition=partition, record_count=rows.num_rows,
            file_size_in_bytes=len(table.io.new_input(path)), spec_id=spec_id,
            referenced_data_file=entries[0][0] if len({p for p, _ in entries}) == 1 else None,
            _table_format_version=metadata.format_version))
    return out


def _merge_on_read_producer(tx: Any, io: Any) -> Any:
    """pyiceberg's fast-append producer that also writes a delete manifest for position delete
    files (it only writes data manifests)."""
    from pyiceberg.manifest import (
        ManifestContent,
        ManifestEntry,
        ManifestEntryStatus,
        ManifestWriterV2,
    )
    from pyiceberg.table.snapshots import Operation
    from pyiceberg.table.update.snapshot import _FastAppendFiles

    class DeleteManifestWriter(ManifestWriterV2):
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

        @property
        def _meta(self) -> dict[str, str]:
            return {**super()._meta, "content": "deletes"}

    class MergeOnRead(_FastAppendFiles):
        _delete_files: list[Any]

        def add_delete_file(self, data_file: Any) -> None:
            self._delete_files.append(data_file)

        def _manifests(self) -> list[Any]:
            manifests = list(super()._manifests())
            if self._delete_files:
                metadata = self._transaction.table_metadata
                writer = DeleteManifestWriter(metadata.spec(), self.schema(),
                                              self.new_manifest_output(), self._snapshot_id,
                                              self._compression)
                with writer:
                    for data_file in self._delete_files:
                        writer.add(ManifestEntry.from_args(
                            status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id,
                            sequence_number=None, file_sequence_number=None,
                            data_file=data_file))
                manifests.append(writer.to_manifest_file())
            return manifests

        def _refresh_for_retry(self) -> None:
            # A lost commit means another writer changed the table after the rows were read:
            # the positions may be stale, so fail instead of re-applying on the new head.
            from pyiceberg.exceptions import ValidationException

            raise ValidationException("the table changed while the statement ran")

        def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Any:
            # The summary (added and total files, records, position deletes) counts delete
            # files as well; pyiceberg's collector handles their content type.
            data_files = self._added_data_files
            self._added_data_files = data_files + self._delete_files
            try:
                return super()._summary(snapshot_properties or {})
            finally:
                self._added_data_files = data_files

    producer = MergeOnRead(operation=Operation.APPEND, transaction=tx, io=io)
    producer._delete_files = []
    return producer
