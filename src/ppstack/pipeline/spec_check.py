"""Schema evolution: the conformed table remembers which fields its fingerprints cover.

A fingerprint is an MD5 over the business fields in declared order. If the entity spec gains,
loses or reorders a field, every fingerprint computed from then on differs from the stored ones,
and the next batch would record every key as changed that day, silently. So the conformed table
records its field list as an Iceberg table property (through the table catalog port: Athena
accepts no custom table properties), and a run whose spec differs is refused before anything
changes, offering the two honest ways forward:

- ``ppstack replay ENTITY``: rebuild history from the archive as if the field had always existed;
- ``ppstack run ... --accept-spec-change``: Iceberg schema evolution adds the column (staging and
  conformed), the property is updated, and that one batch records the resulting changes; its
  ledger record says why.

A table without the property (created before it existed, or just created) adopts the current
spec's list.
"""

from __future__ import annotations

from dataclasses import dataclass

from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, conformed_columns, staging_columns
from ppstack.errors import EngineError, Refused
from ppstack.layout import CONFORMED_NS, STAGING_NS
from ppstack.sql import literal, render
from ppstack.sql.params import BATCH_PARTITION, ddl_columns

FINGERPRINT_PROPERTY = "ppstack.fingerprint-fields"


def field_list(spec: EntitySpec) -> str:
    """The property value: business field names in fingerprint order, comma separated."""
    return ",".join(spec.field_names)


@dataclass(frozen=True)
class SpecChange:
    """How the spec's field list differs from the one the table's fingerprints were made with."""

    recorded: tuple[str, ...]
    current: tuple[str, ...]

    @property
    def added(self) -> list[str]:
        return [f for f in self.current if f not in self.recorded]

    @property
    def removed(self) -> list[str]:
        return [f for f in self.recorded if f not in self.current]

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if not parts:
            parts.append("reordered")
        return "; ".join(parts)


def record_fields(rt: Runtime, spec: EntitySpec, table: str | None = None) -> None:
    """Write the spec's field list into the table's properties."""
    rt.tables.set_properties(CONFORMED_NS, table or spec.conformed_table,
                             {FINGERPRINT_PROPERTY: field_list(spec)})


def compare_spec(rt: Runtime, spec: EntitySpec, table: str | None = None) -> SpecChange | None:
    """None when the table's fingerprints cover the spec's fields (adopting the spec's list when
    the table has none yet), else the difference."""
    table = table or spec.conformed_table
    recorded = rt.tables.properties(CONFORMED_NS, table).get(FINGERPRINT_PROPERTY)
    if recorded is None:
        record_fields(rt, spec, table)
        return None
    if recorded == field_list(spec):
        return None
    return SpecChange(tuple(recorded.split(",")), spec.field_names)


def refusal(spec: EntitySpec, change: SpecChange, source: str, ingest_date: str) -> Refused:
    return Refused(
        f"{spec.name} entity spec differs from the one conformed.{spec.lname} was built with "
        f"({change.describe()}): its fingerprints cover {', '.join(change.recorded)}. Applying "
        f"the {ingest_date} batch now would record every {spec.name} as changed that day. Nothing "
        f"was changed. Either rebuild history as if the new spec had always applied: "
        f"ppstack replay {spec.name}; or record the change as of this batch: "
        f"ppstack run {spec.name} {source} --date {ingest_date} --accept-spec-change"
    )


# A batch id no batch has (ids are run timestamps): the staging table's injected partition
# projection needs a static equality on it in every query, even one that reads no rows.
NO_BATCH = "none"


def missing_columns(rt: Runtime, table_ref: str, wanted: tuple, where: str = "") -> tuple:
    """The columns of ``wanted`` the table does not have (read from a zero-row SELECT;
    ``where``: the condition a partition projection needs)."""
    sql = " ".join(part for part in ("SELECT * FROM", table_ref, where, "LIMIT 0") if part)
    have = set(rt.engine.execute(sql).columns)
    return tuple(c for c in wanted if c.name not in have)


def add_columns(rt: Runtime, namespace: str, table: str, columns: tuple) -> None:
    """``ALTER TABLE <namespace>.<table> ADD COLUMNS``, run in the namespace's catalog (Hive DDL
    on Athena cannot name the S3 Tables catalog in the statement: it goes in the context)."""
    from ppstack.pipeline.batch import context_for

    if columns:
        context = context_for(rt.settings.backend, rt.settings.table_bucket, namespace)
        rt.engine.execute(render("ddl_add_columns", {"table": f"{namespace}.{table}",
                                                     "columns": ddl_columns(columns)}),
                          context)


def evolve_staging(rt: Runtime, spec: EntitySpec) -> list[str]:
    """Add the spec's new columns to the stable staging table (made by an older version, or
    before the spec gained a field); returns their names. Nothing when the table does not
    exist yet: the first stage step creates it with every column."""
    ref = rt.engine.table_ref(STAGING_NS, spec.staging_table)
    wanted = tuple(c for c in staging_columns(spec) if c.name != BATCH_PARTITION)
    # Pinned to a batch that does not exist: Athena refuses the table's injected projection
    # without it (CONSTRAINT_VIOLATION, which read as "no table" here), and locally an unpinned
    # read bound the files of every batch ever staged, a cost that grew with each day.
    pinned = f"WHERE {BATCH_PARTITION} = {literal(NO_BATCH)}"
    try:
        new = missing_columns(rt, ref, wanted, pinned)
    except EngineError:
        return []
    add_columns(rt, STAGING_NS, spec.staging_table, new)
    return [c.name for c in new]


def evolve_lineage(rt: Runtime, spec: EntitySpec, table: str | None = None) -> list[str]:
    """Add the non-business columns a conformed table made by an older version lacks
    (``opened_batch_id``, ``_source_file``, ``_source_row``); business fields are never added
    here, only by ``accept_spec_change``."""
    table = table or spec.conformed_table
    ref = rt.engine.table_ref(CONFORMED_NS, table)
    business = set(spec.field_names)
    new = tuple(c for c in missing_columns(rt, ref, conformed_columns(spec))
                if c.name not in business)
    add_columns(rt, CONFORMED_NS, table, new)
    return [c.name for c in new]


def check_before_run(rt: Runtime, spec: EntitySpec, source: str, ingest_date: str, *,
                     accept: bool) -> str | None:
    """Refuse a run whose spec differs from the table's (unless accepted); the ledger note of
    an accepted change, else None. Runs before the batch's ledger record is opened."""
    evolve_lineage(rt, spec)
    evolve_staging(rt, spec)
    change = compare_spec(rt, spec)
    if change is None:
        return None
    if not accept:
        raise refusal(spec, change, source, ingest_date)
    return accept_spec_change(rt, spec, change)


def accept_spec_change(rt: Runtime, spec: EntitySpec, change: SpecChange) -> str:
    """Iceberg schema evolution for ``--accept-spec-change``; returns the ledger note.

    Safe to repeat: only missing columns are added, and the property is written last.
    """
    ref = rt.engine.table_ref(CONFORMED_NS, spec.conformed_table)
    add_columns(rt, CONFORMED_NS, spec.conformed_table,
                missing_columns(rt, ref, conformed_columns(spec)))
    evolve_staging(rt, spec)
    record_fields(rt, spec)
    return (f"spec change accepted ({change.describe()}): fingerprints now cover "
            f"{field_list(spec)}, so every key whose fingerprint changed is recorded as updated "
            "by this batch")
