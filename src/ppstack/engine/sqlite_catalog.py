"""pyiceberg's ``SqlCatalog`` on SQLite, with its hot path on the standard library's sqlite3.

The local warehouse's catalog is one SQLite file in the schema pyiceberg's ``SqlCatalog``
keeps (table ``iceberg_tables``: catalog, namespace, table name -> current metadata location;
a commit swaps that pointer only if it still names the metadata the commit started from).
``SqlCatalog`` reaches it through SQLAlchemy, whose import and session set-up cost a daily
batch about half a second before any work starts, and a few milliseconds on every one of the
~25 table loads a batch makes.

``SqliteCatalog`` answers what a batch does on every statement (load a table, say whether it
exists, commit a new snapshot) with the same SQL on ``sqlite3`` directly, and hands everything
else (create, drop, rename, namespaces, listings) to a ``SqlCatalog`` on the same file, built
the first time it is needed. Both read and write the same rows with the same optimistic
concurrency rule, so a warehouse written by one is read by the other, and a commit either
catalog makes fails if the other committed in between.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog, MetastoreCatalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table

# SqlCatalog's v1 schema marks table rows 'TABLE' (views written by other Iceberg libraries
# share the table); rows of its older v0 schema have no such column (see _current_location).
_LOAD = ("SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? "
         "AND table_namespace = ? AND table_name = ? "
         "AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)")
_SWAP = ("UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
         "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
         "AND metadata_location = ?")
_BUSY_SECONDS = 5.0  # what SQLAlchemy's sqlite driver waits on a locked database, too


class SqliteCatalog(MetastoreCatalog):
    """``SqlCatalog`` semantics; load, exists and commit without SQLAlchemy (module doc)."""

    def __init__(self, name: str, database: Path, warehouse: Path) -> None:
        super().__init__(name, uri=f"sqlite:///{database}", warehouse=warehouse.as_uri())
        self._database = database
        self._sql_catalog: Any = None
        # Metadata files are write-once (a commit writes a new one): parsed once per location.
        self._metadata: dict[str, Any] = {}

    def full(self) -> Any:
        """pyiceberg's ``SqlCatalog`` on the same file (creates the catalog tables if absent)."""
        if self._sql_catalog is None:
            from pyiceberg.catalog.sql import SqlCatalog

            try:
                self._sql_catalog = SqlCatalog(self.name, **self.properties)
            except Exception:
                # Two processes creating the catalog tables at once: the loser finds them.
                self._sql_catalog = SqlCatalog(self.name, **self.properties)
        return self._sql_catalog

    # ---- the hot path: sqlite3 ----
    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._database, timeout=_BUSY_SECONDS)

    def _current_location(self, namespace: str, name: str) -> str | None:
        """The table's metadata location; None when the catalog has no such table (or no
        catalog tables yet). Anything else sqlite3 raises goes to ``SqlCatalog``."""
        if not self._database.exists():
            return None
        with closing(self._connect()) as con:
            try:
                row = con.execute(_LOAD, (self.name, namespace, name)).fetchone()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
        return str(row[0]) if row and row[0] else None

    def load_table(self, identifier: str | tuple[str, ...]) -> Table:
        namespace, name = _split(identifier)
        try:
            location = self._current_location(namespace, name)
        except sqlite3.OperationalError:  # e.g. a v0 catalog without iceberg_type
            return self._rebind(self.full().load_table(identifier))
        if location is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}")
        metadata = self._metadata.get(location)
        if metadata is None:
            io = self._load_file_io(location=location)
            metadata = FromInputFile.table_metadata(io.new_input(location))
            self._metadata[location] = metadata
        return Table(identifier=(namespace, name), metadata=metadata,
                     metadata_location=location,
                     io=self._load_file_io(metadata.properties, location), catalog=self)

    def _rebind(self, table: Table) -> Table:
        """A table ``SqlCatalog`` loaded, committing through this catalog."""
        return Table(identifier=table.name(), metadata=table.metadata,
                     metadata_location=table.metadata_location, io=table.io, catalog=self)

    def table_exists(self, identifier: str | tuple[str, ...]) -> bool:
        try:
            return self._current_location(*_split(identifier)) is not None
        except sqlite3.OperationalError:
            return bool(self.full().table_exists(identifier))

    def commit_table(self, table: Table, requirements: tuple[Any, ...],
                     updates: tuple[Any, ...]) -> CommitTableResponse:
        """``SqlCatalog.commit_table`` for an existing table: stage the new metadata on the
        current one, write it, then swap the pointer only if it still names the current
        metadata (else CommitFailedException, which pyiceberg retries or reports)."""
        namespace, name = _split(table.name())
        try:
            current = self.load_table((namespace, name))
        except NoSuchTableError:
            return self.full().commit_table(table, requirements, updates)  # a create
        staged = self._update_and_stage_table(current, (namespace, name), requirements, updates)
        if staged.metadata == current.metadata:
            return _response(current.metadata, current.metadata_location)
        self._write_metadata(metadata=staged.metadata, io=staged.io,
                             metadata_path=staged.metadata_location)
        with closing(self._connect()) as con, con:  # one transaction, committed on exit
            swapped = con.execute(_SWAP, (staged.metadata_location, current.metadata_location,
                                          self.name, namespace, name,
                                          current.metadata_location)).rowcount
        if swapped < 1:
            raise CommitFailedException(
                f"Table has been updated by another process: {namespace}.{name}")
        self._metadata[staged.metadata_location] = staged.metadata
        return _response(staged.metadata, staged.metadata_location)

    # ---- everything else: SqlCatalog on the same file ----
    def create_table(self, *args: Any, **kwargs: Any) -> Table:
        return self._rebind(self.full().create_table(*args, **kwargs))

    def register_table(self, *args: Any, **kwargs: Any) -> Table:
        return self._rebind(self.full().register_table(*args, **kwargs))

    def drop_table(self, identifier: Any) -> None:
        self.full().drop_table(identifier)

    def rename_table(self, from_identifier: Any, to_identifier: Any) -> Table:
        return self._rebind(self.full().rename_table(from_identifier, to_identifier))

    def create_namespace(self, *args: Any, **kwargs: Any) -> None:
        self.full().create_namespace(*args, **kwargs)

    def drop_namespace(self, namespace: Any) -> None:
        self.full().drop_namespace(namespace)

    def list_tables(self, namespace: Any) -> list[tuple[str, ...]]:
        return list(self.full().list_tables(namespace))

    def list_namespaces(self, namespace: Any = ()) -> list[tuple[str, ...]]:
        return list(self.full().list_namespaces(namespace))

    def load_namespace_properties(self, namespace: Any) -> dict[str, str]:
        return dict(self.full().load_namespace_properties(namespace))

    def update_namespace_properties(self, *args: Any, **kwargs: Any) -> Any:
        return self.full().update_namespace_properties(*args, **kwargs)

    def create_view(self, *args: Any, **kwargs: Any) -> Any:
        return self.full().create_view(*args, **kwargs)

    def list_views(self, namespace: Any) -> list[tuple[str, ...]]:
        return list(self.full().list_views(namespace))

    def load_view(self, identifier: Any) -> Any:
        return self.full().load_view(identifier)

    def register_view(self, *args: Any, **kwargs: Any) -> Any:
        return self.full().register_view(*args, **kwargs)

    def view_exists(self, identifier: Any) -> bool:
        return bool(self.full().view_exists(identifier))

    def drop_view(self, identifier: Any) -> None:
        self.full().drop_view(identifier)


def _response(metadata: Any, location: str) -> CommitTableResponse:
    # Built by field name as SqlCatalog builds it; the pydantic plugin knows only the alias.
    return CommitTableResponse(metadata=metadata, metadata_location=location)  # type: ignore[call-arg]


def _split(identifier: str | tuple[str, ...]) -> tuple[str, str]:
    """(namespace, table) as ``SqlCatalog`` stores them (a dotted namespace for nested ones)."""
    parts = Catalog.identifier_to_tuple(identifier)
    return Catalog.namespace_to_string(parts[:-1]), parts[-1]
