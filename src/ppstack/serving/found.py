"""The items of an entity found in DynamoDB, kept on disk while a repair works key range by range.

Why on disk: a repair compares what DynamoDB holds with the projection of the conformed table.
For the full directory both sides have about 2.1 million items; held as Python dicts they took
gigabytes, enough for the OOM killer on a laptop. The projection is now made one key range at
a time (``serving.repair``), and the found side is kept here: one row per item, its key, the
entity id its key names and a 16-byte digest of its content, in a temporary SQLite file (the
standard library's, not a store the product serves from). A key range then loads only its own
rows, and what is left once every range struck out the items it expects is what the
projection does not contain: the items to delete. Exact (keys are compared as keys, not
hashed), and memory stays that of one range whatever the table's size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ppstack.entities.spec import EntitySpec
from ppstack.serving.changes import comparable
from ppstack.serving.keys import changes_pk, item_pk, search_pk
from ppstack.serving.projection import Item, ItemKey, key_of


def digest(item: Item) -> bytes:
    """The content of an item as repair compares it (``changes.comparable``), as 16 bytes."""
    text = json.dumps(comparable(item), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def key_entity(spec: EntitySpec, key: ItemKey) -> str | None:
    """The entity id an item's key names (None for a batch item or an unknown partition).

    Taken from the key alone, never from attributes, so an item and its expected form always
    fall in the same key range even when the found item's attributes are damaged.
    """
    pk, sk = key
    if pk.startswith(item_pk(spec.name, "")):
        return pk[len(item_pk(spec.name, "")):]
    if pk == search_pk(spec.name):
        return sk.rsplit("#", 1)[-1]  # token#...#<ENTITY>#<id>, rank#...#<ENTITY>#<id>
    if pk.startswith(changes_pk(spec.name, "")):
        return sk
    return None


class FoundItems:
    """``with FoundItems(spec) as found: found.add(page) ... found.between(first, last) ...
    found.expected(keys) ... found.remaining()``."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.dir = Path(tempfile.mkdtemp(prefix="ppstack-found-"))
        self.db = sqlite3.connect(self.dir / "found.sqlite", check_same_thread=False)
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE found (pk TEXT, sk TEXT, eid TEXT, digest BLOB,"
            " PRIMARY KEY (pk, sk)) WITHOUT ROWID;"
            "CREATE INDEX found_eid ON found (eid);")
        self.lock = threading.Lock()  # scan segments add from several threads

    def __enter__(self) -> FoundItems:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def add(self, items: Iterable[Item]) -> None:
        rows = [(*key_of(i), key_entity(self.spec, key_of(i)), digest(i)) for i in items]
        with self.lock:
            self.db.executemany("INSERT OR REPLACE INTO found VALUES (?, ?, ?, ?)", rows)

    def between(self, first: str | None, last: str | None) -> dict[ItemKey, bytes]:
        """Key -> digest of the found items of entity ids from ``first`` to ``last`` (both
        included; both None: batch items and items of no entity)."""
        args: tuple[str, ...] = ()
        if first is None or last is None:
            where = "eid IS NULL"
        else:
            where, args = "eid BETWEEN ? AND ?", (first, last)
        with self.lock:
            rows = self.db.execute(f"SELECT pk, sk, digest FROM found WHERE {where}",
                                   args).fetchall()
        return {(pk, sk): d for pk, sk, d in rows}

    def expected(self, keys: Iterable[ItemKey]) -> None:
        """These found items are in the projection: they are not extra."""
        with self.lock:
            self.db.executemany("DELETE FROM found WHERE pk = ? AND sk = ?", list(keys))

    def remaining(self, size: int = 1_000) -> Iterator[list[ItemKey]]:
        """The keys not marked expected (the extras), ``size`` at a time, in key order."""
        cursor = self.db.execute("SELECT pk, sk FROM found ORDER BY pk, sk")
        while rows := cursor.fetchmany(size):
            yield [(pk, sk) for pk, sk in rows]
