"""The local stand-in for the Glue Data Catalog: databases and external (Hive/Parquet) tables.

Athena keeps table definitions in Glue, outside any one query; locally they live as small JSON
files under ``<home>/catalog`` so that every CLI process (and every ``LocalEngine``) sees the same
tables. One file per object (``databases/<db>.json``, ``tables/<db>/<table>.json``) rather than one
big file, so two processes registering different tables never overwrite each other's change.
Creates are exclusive (``os.link`` of a temp file), replaces are atomic (``os.replace``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def check_name(name: str, what: str) -> str:
    """Glue/S3 Tables names are ``[a-z0-9_]``; refuse anything else early.

    ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-buckets-naming.html
    """
    if not name or not set(name) <= _NAME_OK:
        from ppstack.errors import EngineError

        raise EngineError(f"invalid {what} name {name!r}: use lower-case letters, digits and '_'")
    return name


@dataclass
class ExternalTable:
    """A Glue external table over Parquet files (staging, raw renditions, CTAS output).

    ``columns`` and ``partition_keys`` are ``[name, athena_type]`` pairs; ``template`` is the
    ``storage.location.template`` of an injected partition projection (``${key}`` placeholders).
    """

    database: str
    name: str
    columns: list[list[str]]
    location: str
    partition_keys: list[list[str]] = field(default_factory=list)
    template: str | None = None
    file_format: str = "parquet"
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def all_columns(self) -> list[list[str]]:
        """Data columns then partition keys: the order Athena shows them in."""
        return [*self.columns, *self.partition_keys]


class Registry:
    """Databases and external tables, persisted as one JSON file each."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "databases").mkdir(parents=True, exist_ok=True)
        (self.root / "tables").mkdir(parents=True, exist_ok=True)

    # ---- databases ----
    def _db_path(self, name: str) -> Path:
        return self.root / "databases" / f"{name}.json"

    def has_database(self, name: str) -> bool:
        return self._db_path(name).is_file()

    def create_database(self, name: str) -> bool:
        """Record a database; returns False when it already existed."""
        return _write_json(self._db_path(check_name(name, "database")), {"name": name},
                           exclusive=True)

    def databases(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "databases").glob("*.json"))

    # ---- tables ----
    def _table_path(self, database: str, name: str) -> Path:
        return self.root / "tables" / database / f"{name}.json"

    def get(self, database: str, name: str) -> ExternalTable | None:
        path = self._table_path(database, name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return ExternalTable(**data)

    def create(self, table: ExternalTable) -> bool:
        """Register a table; returns False (and changes nothing) when the name is taken."""
        check_name(table.database, "database")
        check_name(table.name, "table")
        return _write_json(self._table_path(table.database, table.name), asdict(table),
                           exclusive=True)

    def replace(self, table: ExternalTable) -> None:
        """Rewrite an existing table's definition atomically (ALTER TABLE ADD COLUMNS)."""
        _write_json(self._table_path(table.database, table.name), asdict(table), exclusive=False)

    def drop(self, database: str, name: str) -> bool:
        """Forget a table's definition. Its files stay where they are (Athena never deletes
        data)."""
        try:
            self._table_path(database, name).unlink()
        except FileNotFoundError:
            return False
        return True

    def tables(self, database: str) -> list[str]:
        return sorted(p.stem for p in (self.root / "tables" / database).glob("*.json"))


def _write_json(path: Path, data: dict, *, exclusive: bool) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
