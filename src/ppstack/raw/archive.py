"""Layer 1: archive one delivery write-once, with its renditions and a manifest.

Order of work, and why:

1. Check the date; if a manifest for this date exists, compare file names and sha256 with it
   and stop (identical: a no-op; different: ``AlreadyExists``). Nothing is parsed again.
2. Parse and check every member completely (``readers``) and build every rendition in memory,
   so bad input is refused before a single byte is written.
3. Compare with whatever a crashed earlier run left under ``raw/`` and ``raw_tabular/`` for the
   date: identical objects are kept (that is how a crash is completed), any other object
   refuses the whole delivery (``AlreadyExists``), still before writing.
4. Write originals, then renditions, each create-only (``If-None-Match: *``), then the manifest
   last: its presence is what marks the archive complete.

Nothing here rewrites or deletes anything under ``raw/`` or ``raw_tabular/``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ppstack import layout
from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, Member, Source
from ppstack.errors import AlreadyExists, BadInput, NotFound
from ppstack.progress import Progress
from ppstack.raw import readers, renditions
from ppstack.storage.base import ObjectStore, PreconditionFailed

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class ArchivedFile:
    name: str
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ArchivedMember:
    name: str
    key: str  # the rendition's key
    source_file: str
    rows: int
    columns: list[str]  # lower-cased source headers, in source order
    absent: list[str] = field(default_factory=list)  # declared columns the delivery lacked
    encoding: str = ""


@dataclass(frozen=True)
class ArchiveResult:
    entity: str
    source: str
    ingest_date: str
    manifest_key: str
    files: list[ArchivedFile]
    members: dict[str, ArchivedMember]
    archived_at: str
    already_archived: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def manifest(self) -> dict[str, Any]:
        doc = self.to_dict()
        doc.pop("already_archived")
        doc.pop("manifest_key")
        return {"format": MANIFEST_FORMAT, **doc}

    @classmethod
    def from_manifest(cls, doc: dict[str, Any], key: str, already_archived: bool) -> ArchiveResult:
        return cls(
            entity=doc["entity"], source=doc["source"], ingest_date=doc["ingest_date"],
            manifest_key=key, archived_at=doc["archived_at"],
            files=[ArchivedFile(**f) for f in doc["files"]],
            members={n: ArchivedMember(**m) for n, m in doc["members"].items()},
            already_archived=already_archived,
        )


def archive(rt: Runtime, entity: EntitySpec, source: Source, files: Sequence[Path],
            ingest_date: str, progress: Progress | None = None) -> ArchiveResult:
    """Archive ``files`` as the ``source`` delivery of ``ingest_date`` for ``entity``."""
    layout.check_date(ingest_date)
    if source.name not in entity.sources:
        raise BadInput(f"source {source.name} does not feed {entity.name}; known: "
                       f"{', '.join(entity.sources)}")
    inputs = []
    for p in files:
        path = Path(p)
        if not path.is_file():
            raise BadInput(f"{path}: no such file")
        inputs.append(readers.InputFile(path.name, path.read_bytes()))
    return archive_inputs(rt, entity, source, inputs, ingest_date, progress)


def archive_inputs(rt: Runtime, entity: EntitySpec, source: Source,
                   inputs: Sequence[readers.InputFile], ingest_date: str,
                   progress: Progress | None = None) -> ArchiveResult:
    say = progress or (lambda _msg: None)
    layout.check_date(ingest_date)
    store = rt.store
    e, s, d = entity.name, source.name, ingest_date
    mkey = layout.manifest_key(e, s, d)
    files = [ArchivedFile(f.name, layout.raw_key(e, s, d, f.name), f.size,
                          f.sha256) for f in inputs]

    done = _existing_manifest(store, mkey, files)
    if done is not None:
        say(f"already archived: {store.uri(mkey)}")
        return done

    say(f"reading {len(inputs)} file(s)")
    delivery = readers.read_delivery(source, inputs)
    members: dict[str, ArchivedMember] = {}
    parquet: dict[str, tuple[bytes, Any]] = {}
    # Members encode independently and pyarrow releases the GIL: one thread each.
    with ThreadPoolExecutor(max_workers=max(1, len(source.members))) as pool:
        built = list(pool.map(lambda m: _render(delivery.members[m.name], m), source.members))
    for m, (data, table) in zip(source.members, built, strict=True):
        mt = delivery.members[m.name]
        key = layout.rendition_prefix(e, s, d, m.name) + f"{m.name}.parquet"
        parquet[key] = (data, table)
        present = set(mt.columns)
        members[m.name] = ArchivedMember(
            name=m.name, key=key, source_file=mt.source_file, rows=mt.rows, columns=mt.columns,
            absent=[c.lower() for c in m.columns if c.lower() not in present], encoding=mt.encoding,
        )
        say(f"{mt.source_file}: {mt.rows} rows -> {m.name}")

    originals = {f.key: i.data for f, i in zip(files, inputs, strict=True)}
    _refuse_conflicts(store, e, s, d, originals, parquet)

    for key, data in originals.items():
        _put_once(store, key, data, None)
    for key, (data, table) in parquet.items():
        _put_once(store, key, data, table)
    result = ArchiveResult(
        entity=e, source=s, ingest_date=d, manifest_key=mkey, files=files, members=members,
        archived_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    body = (json.dumps(result.manifest(), indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        store.put(mkey, body, if_none_match=True)
    except PreconditionFailed:
        # A concurrent run finished first; accept it only if it archived the same files.
        done = _existing_manifest(store, mkey, files)
        if done is None:
            raise
        return done
    say(f"archived: {store.uri(mkey)}")
    return result


def _render(mt: readers.MemberTable, member: Member) -> tuple[bytes, Any]:
    table = renditions.rendition_table(mt, member)
    return renditions.to_parquet(table), table


def load_manifest(rt: Runtime, entity: EntitySpec | str, source: Source | str,
                  ingest_date: str) -> ArchiveResult:
    """The completed archive of a date (files, members, rendition keys, row counts).

    Raises NotFound when the date was never archived or its archive did not complete.
    """
    layout.check_date(ingest_date)
    e = entity if isinstance(entity, str) else entity.name
    s = source if isinstance(source, str) else source.name
    key = layout.manifest_key(e.upper(), s.upper(), ingest_date)
    try:
        doc = json.loads(rt.store.get(key))
    except NotFound:
        raise NotFound(
            f"{e.upper()} {s.upper()} {ingest_date} is not archived ({rt.store.uri(key)} is "
            "missing); run `ppstack archive` first"
        ) from None
    return ArchiveResult.from_manifest(doc, key, already_archived=True)


def _existing_manifest(store: ObjectStore, mkey: str,
                       files: list[ArchivedFile]) -> ArchiveResult | None:
    """The stored result when this exact delivery is archived; AlreadyExists when another is."""
    try:
        doc = json.loads(store.get(mkey))
    except NotFound:
        return None
    stored = ArchiveResult.from_manifest(doc, mkey, already_archived=True)
    have = {(f.name, f.sha256) for f in stored.files}
    want = {(f.name, f.sha256) for f in files}
    if have == want:
        return stored
    raise AlreadyExists(
        f"{stored.entity} {stored.source} {stored.ingest_date} is already archived with "
        f"{_describe(stored.files)}; this delivery is {_describe(files)}. Archived files are "
        "never replaced: archive a corrected delivery under its own publication date"
    )


def _describe(files: list[ArchivedFile]) -> str:
    return ", ".join(f"{f.name} (sha256 {f.sha256[:12]})" for f in sorted(files,
                                                                          key=lambda f: f.name))


def _refuse_conflicts(store: ObjectStore, e: str, s: str, d: str, originals: dict[str, bytes],
                      parquet: dict[str, tuple[bytes, Any]]) -> None:
    """Everything a crashed run left for this date must be part of this very delivery."""
    leftovers = store.list(layout.raw_prefix(e, s, d))
    # The manifest's folder is the date's folder of renditions (layout has no separate helper).
    leftovers += store.list(layout.manifest_key(e, s, d).rsplit("/", 1)[0] + "/")
    for key in leftovers:
        if key in originals:
            if store.get(key) != originals[key]:
                raise AlreadyExists(
                    f"{store.uri(key)} already exists with different bytes; archived files are "
                    "never replaced (use the publication date of this delivery)"
                )
        elif key in parquet:
            data, table = parquet[key]
            old = store.get(key)
            if old != data and not renditions.same_content(old, table):
                raise AlreadyExists(f"{store.uri(key)} already exists with different content")
        else:
            raise AlreadyExists(
                f"{store.uri(key)} exists but is not part of this delivery: {d} was already "
                f"(partly) archived with a different set of files; nothing was written"
            )


def _put_once(store: ObjectStore, key: str, data: bytes, table: Any | None) -> None:
    """Create-only write; an existing object is accepted only when it holds the same content.

    Originals must match byte for byte; a rendition (``table`` given) may match by content.
    """
    try:
        store.put(key, data, if_none_match=True)
    except PreconditionFailed:
        old = store.get(key)
        if old != data and (table is None or not renditions.same_content(old, table)):
            raise AlreadyExists(f"{store.uri(key)} already exists with different content") from None
