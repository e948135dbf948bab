"""Table maintenance of the local warehouse: what S3 Tables does by itself on AWS.

S3 Tables runs two jobs on every table without being asked: compaction (rewrites small data
files into larger ones and applies row-level deletes) and snapshot management (expires
snapshots older than ``maxSnapshotAgeHours`` while keeping at least ``minSnapshotsToKeep``).
ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-maintenance.html

Locally ``ppstack maintain ENTITY`` runs the same two jobs on the conformed Iceberg table with
the retention the deployment configures (``infra/ppstack_infra/config.py``: 720 hours, at
least 30 snapshots). Neither job changes what the table holds: compaction commits one
snapshot with the same rows, and expiry only removes snapshots beyond the
retention, so time travel within the retention reads what it read before. Files of expired
snapshots stay on disk (S3 Tables removes unreferenced files days later, as a separate job).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_SNAPSHOT_AGE_HOURS = 720  # = infra config snapshot_max_age_hours
MIN_SNAPSHOTS_TO_KEEP = 30  # = infra config min_snapshots_to_keep
# Compact when the current snapshot has delete files or more data files than this.
MAX_DATA_FILES = 1


@dataclass
class MaintenanceReport:
    table: str
    data_files_before: int = 0
    delete_files_before: int = 0
    data_files_after: int = 0
    delete_files_after: int = 0
    compacted: bool = False
    snapshots_before: int = 0
    snapshots_expired: int = 0
    snapshots_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_counts(table: Any) -> tuple[int, int]:
    """(data files, delete files) of the current snapshot."""
    if table.current_snapshot() is None:
        return 0, 0
    tasks = list(table.scan().plan_files())
    return len(tasks), len({d.file_path for t in tasks for d in t.delete_files})


def compact(table: Any, current_flag: str | None = None) -> bool:
    """Rewrite the live rows into new data files without deletes, as ONE snapshot
    (only when there are delete files or more than MAX_DATA_FILES data files); rows whose
    boolean ``current_flag`` is true first (``current_first``)."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    from pyiceberg.manifest import ManifestContent
    from pyiceberg.table.snapshots import Operation
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    data, deletes = file_counts(table)
    if deletes == 0 and data <= MAX_DATA_FILES:
        return False
    tasks = list(table.scan().plan_files())
    rows = table.scan().to_arrow()  # pyiceberg applies the position deletes
    if current_flag is not None:
        rows = current_first(rows, current_flag)

    class Rewrite(_OverwriteFiles):
        def _existing_manifests(self) -> list[Any]:
            # Every data file is replaced, so every delete file is obsolete with it.
            return [m for m in super()._existing_manifests()
                    if m.content == ManifestContent.DATA]

    with table.transaction() as tx:
        # Iceberg calls a compaction 'replace'; pyiceberg 0.12 cannot summarise that operation,
        # so the snapshot is recorded as an 'overwrite' (with the same rows).
        producer = Rewrite(operation=Operation.OVERWRITE, transaction=tx, io=table.io)
        for task in tasks:
            producer.delete_data_file(task.file)
        if rows.num_rows:
            for data_file in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata, write_uuid=producer.commit_uuid,
                    df=rows, io=table.io):
                producer.append_data_file(data_file)
        producer.commit()
    return True


def current_first(rows: Any, current_flag: str) -> Any:
    """The rows of an SCD2 table with its open versions first (a stable sort on the boolean
    ``current_flag``, so rows keep their order within each group).

    Every batch reads only the open versions (``WHERE is_current``), while closed ones pile up
    with each day of history. Written apart, they land in row groups of their own whose
    statistics say the flag is false throughout, and readers skip them unread: a batch then
    costs what the current rows cost, not what the history costs.
    """
    return rows.sort_by([(current_flag, "descending")])


def expire(table: Any, max_age_hours: float, min_keep: int, now: datetime | None = None) -> int:
    """Expire snapshots older than ``max_age_hours``, keeping the newest ``min_keep`` (and the
    current one); returns how many were expired."""
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    current = table.current_snapshot()
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=max_age_hours)
    cutoff_ms = int(cutoff.timestamp() * 1000)
    keep = {s.snapshot_id for s in snapshots[-max(min_keep, 1):]}
    if current is not None:
        keep.add(current.snapshot_id)
    old = [s.snapshot_id for s in snapshots
           if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def maintain(store: Any, namespace: str, name: str, *,
             max_age_hours: float = MAX_SNAPSHOT_AGE_HOURS,
             min_keep: int = MIN_SNAPSHOTS_TO_KEEP,
             current_flag: str | None = None) -> MaintenanceReport:
    """Compact, then expire, the Iceberg table ``namespace.name`` of an ``IcebergStore``
    (``current_flag``: see ``compact``)."""
    table = store.load(namespace, name)
    report = MaintenanceReport(f"{namespace}.{name}")
    report.snapshots_before = len(table.snapshots())
    report.data_files_before, report.delete_files_before = file_counts(table)
    report.compacted = compact(table, current_flag)
    table = store.load(namespace, name)
    report.snapshots_expired = expire(table, max_age_hours, min_keep)
    table = store.load(namespace, name)
    report.snapshots_after = len(table.snapshots())
    report.data_files_after, report.delete_files_after = file_counts(table)
    return report
