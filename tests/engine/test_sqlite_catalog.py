"""SqliteCatalog: the local warehouse's catalog without SQLAlchemy on the hot path keeps
pyiceberg's SqlCatalog format and its optimistic commit rule, in both directions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from ppstack.engine.sqlite_catalog import SqliteCatalog

SCHEMA = Schema(NestedField(1, "k", StringType(), required=False),
                NestedField(2, "v", LongType(), required=False))


def rows(k: str, v: int) -> pa.Table:
    return pa.table({"k": pa.array([k], pa.string()), "v": pa.array([v], pa.int64())})


@pytest.fixture
def catalogs(tmp_path: Path) -> tuple[SqliteCatalog, Any]:
    """The light catalog and pyiceberg's own SqlCatalog on one warehouse."""
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    light = SqliteCatalog("ppstack", warehouse / "catalog.db", warehouse)
    full = SqlCatalog("ppstack", uri=f"sqlite:///{warehouse / 'catalog.db'}",
                      warehouse=warehouse.as_uri())
    return light, full


def test_an_empty_warehouse_has_no_table(catalogs: tuple[SqliteCatalog, Any]) -> None:
    light, _full = catalogs
    assert not light.table_exists(("conformed", "t"))
    with pytest.raises(NoSuchTableError):
        light.load_table(("conformed", "t"))


def test_commits_of_either_catalog_are_read_by_the_other(
        catalogs: tuple[SqliteCatalog, Any]) -> None:
    light, full = catalogs
    light.create_namespace_if_not_exists("conformed")
    light.create_table(("conformed", "t"), schema=SCHEMA)
    assert light.table_exists(("conformed", "t"))
    light.load_table(("conformed", "t")).append(rows("a", 1))  # committed by SqliteCatalog
    full.load_table(("conformed", "t")).append(rows("b", 2))  # committed by SqlCatalog
    light.load_table(("conformed", "t")).append(rows("c", 3))
    for catalog in (light, full):
        table = catalog.load_table(("conformed", "t"))
        assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["k"]) == [
            {"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "c", "v": 3}]
        assert len(table.snapshots()) == 3
    assert (light.load_table(("conformed", "t")).metadata_location
            == full.load_table(("conformed", "t")).metadata_location)


def test_a_commit_loses_to_a_commit_made_after_it_read_the_table(
        catalogs: tuple[SqliteCatalog, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    light, full = catalogs
    light.create_namespace_if_not_exists("conformed")
    light.create_table(("conformed", "t"), schema=SCHEMA)
    light.load_table(("conformed", "t")).append(rows("a", 1))
    write = light._write_metadata

    def another_writer_first(metadata: Any, io: Any, metadata_path: str) -> None:
        # Another process commits between this commit's read and its pointer swap.
        full.load_table(("conformed", "t")).append(rows("z", 26))
        write(metadata, io, metadata_path)

    monkeypatch.setattr(light, "_write_metadata", another_writer_first)
    table = light.load_table(("conformed", "t"))
    with pytest.raises(CommitFailedException):
        light.commit_table(table, (), (_set_property("x", "1"),))
    monkeypatch.undo()
    after = light.load_table(("conformed", "t"))
    assert "x" not in after.properties
    assert sorted(r["k"] for r in after.scan().to_arrow().to_pylist()) == ["a", "z"]


def _set_property(key: str, value: str) -> Any:
    from pyiceberg.table.update import SetPropertiesUpdate

    return SetPropertiesUpdate(updates={key: value})
