"""Row-level changes to a local Iceberg table the way Athena writes them: merge-on-read.

Athena's MERGE / UPDATE / DELETE on an Iceberg table does not rewrite the data files that hold
the changed rows: it writes position delete files (``file_path``, ``pos`` of every removed or
replaced row) and appends the new versions of updated rows as new data files, in one snapshot.
ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-update.html
ref: https://iceberg.apache.org/spec/#position-delete-files

The local engine does the same, so the cost of a batch follows the rows it changes, not the
size of the table's history: ``read_positioned`` gives every live row with the data file and
position it lives at, ``commit_row_changes`` writes the position deletes and the new rows as
ONE snapshot. pyiceberg reads such tables natively (it applies position deletes in scans);
pyiceberg 0.12 cannot write them, so the delete manifest is written here. ``ppstack maintain``
compacts the delete files away again, as S3 Tables' automatic compaction does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

FILE = "__file"  # index of the row's data file in ``Positioned.files``
POS = "__pos"  # the row's position in that file (0-based, as position deletes count)

# Reserved field ids of the position delete file schema (Iceberg spec, "Reserved Field IDs").
_FILE_PATH_ID = 2147483546
_POS_ID = 2147483545


@dataclass(frozen=True)
class Positioned:
    """The live rows of one snapshot, each with FILE and POS columns, and its data files."""

    rows: Any  # pyarrow.Table: the schema's columns, then FILE (int32) and POS (int64)
    files: tuple[Any, ...]  # pyiceberg DataFile, indexed by FILE


def read_positioned(table: Any, snapshot_id: int, conform: Any) -> Positioned:
    """Every live row of ``snapshot_id`` with its data file and position.

    Each data file is read whole (pyiceberg's reader: schema evolution and field ids handled),
    numbered 0..n-1, and the positions its delete files name are dropped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.io.pyarrow import ArrowScan, _read_deletes
    from pyiceberg.table import FileScanTask

    scan = table.scan(snapshot_id=snapshot_id)
    tasks = list(scan.plan_files())
    reader = ArrowScan(table.metadata, table.io, scan.projection(), scan.row_filter,
                       case_sensitive=True)
    deletes: dict[str, list[Any]] = {}
    for delete_file in {d for task in tasks for d in task.delete_files}:
        for path, positions in _read_deletes(table.io, delete_file).items():
            deletes.setdefault(path, []).append(positions)
    parts = []
    for index, task in enumerate(tasks):
        rows = conform(reader.to_table([FileScanTask(task.file)]), table.schema())
        n = rows.num_rows
        rows = rows.append_column(FILE, pa.array([index] * n, pa.int32()))
        rows = rows.append_column(POS, pa.array(range(n), pa.int64()))
        gone = deletes.get(task.file.file_path)
        if gone:
            dead = pa.chunked_array([c for g in gone for c in g.chunks], pa.int64())
            rows = rows.filter(pc.invert(pc.is_in(rows.column(POS), value_set=dead)))
        parts.append(rows)
    if not parts:
        from ppstack.engine.iceberg import arrow_schema

        base = arrow_schema(table.schema())
        empty = base.append(pa.field(FILE, pa.int32())).append(pa.field(POS, pa.int64()))
        return Positioned(empty.empty_table(), ())
    return Positioned(pa.concat_tables(parts), tuple(task.file for task in tasks))


def commit_row_changes(table: Any, base: Positioned, removed: Any, added: Any) -> int:
    """ONE snapshot: position deletes for ``removed`` (FILE, POS of ``base``) and ``added`` rows
    as new data files. Returns the new snapshot id. Fails, committing nothing, when another
    writer changed the table since ``base`` was read."""
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


def _position_delete_files(table: Any, metadata: Any, base: Positioned, removed: Any,
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
