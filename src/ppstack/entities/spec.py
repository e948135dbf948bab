"""Entity and source specs: the data every layer derives its tables, SQL and items from.

Standard library only: the API handlers read specs inside a Lambda bundle.
Adding an entity type means adding one module here plus its staging template; no pipeline,
sync or API code changes (``tests/entities/test_specs.py`` checks every entity is complete).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Types are Athena/Iceberg type names; the local engine and pyiceberg map them.
STRING = "string"
DATE = "date"
TIMESTAMP = "timestamp"
BOOLEAN = "boolean"
BIGINT = "bigint"

OPEN_END = "9999-12-31"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STRING
    doc: str = ""


@dataclass(frozen=True)
class Member:
    """One tabular member of a source delivery (e.g. ``product.txt`` inside ``ndctext.zip``)."""

    name: str  # short name, used in raw table names and rendition paths: "product"
    identify_by: str  # a header only this member has, so any file form maps to its member
    required: tuple[str, ...]  # headers that must be present (upper case, as FDA writes them)
    columns: tuple[str, ...]  # the headers the Glue raw table declares, in source order


@dataclass(frozen=True)
class Source:
    """A data source: how its files look, independent of the entity types derived from it."""

    name: str  # "FDA_NDC"
    members: tuple[Member, ...]
    encoding: str = "cp1252"
    delimiter: str = "\t"
    doc: str = ""
    url: str = ""  # where the publisher serves the whole delivery (``ppstack fetch``'s default)

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)


@dataclass(frozen=True)
class SearchField:
    """A business field the search tokenizes, with its rank tier and its short scope name.

    ``tier`` orders results: a query word found in a tier-0 field (the drug's own name) ranks
    above one found in tier 1 (generic name, ingredients), which ranks above tier 2 (form,
    route, strength, labeler). Tier-0 fields are the entity's *name*: the more of the name's
    words a query matches, the higher the result ranks. ``alias`` is the short form a query may
    use to restrict a word to this field (``name:tylenol``); the full field name works too.
    """

    name: str
    tier: int
    alias: str = ""


@dataclass(frozen=True)
class EntitySpec:
    """One entity type. ``fields`` are the business fields in fingerprint order, key first."""

    name: str  # upper case: "DRUG"
    key: str  # business key column: "ndc"
    key_format: str  # name of the key normaliser in ``serving.keys.KEY_NORMALIZERS``
    fields: tuple[Column, ...]
    sources: tuple[str, ...]  # names of sources this entity is staged from
    search: tuple[SearchField, ...] = ()  # tokenized fields, in the order search items list them
    doc: str = ""
    staging_template: dict[str, str] = field(default_factory=dict)  # source -> template name

    # ---- derived names (Athena/S3 Tables need lower case) ----
    @property
    def lname(self) -> str:
        return self.name.lower()

    @property
    def api_path(self) -> str:
        return self.lname

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.fields)

    @property
    def search_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.search)

    @property
    def staging_table(self) -> str:
        return f"{self.lname}_batch"

    @property
    def rejects_table(self) -> str:
        return f"{self.lname}_rejects"

    @property
    def conformed_table(self) -> str:
        return self.lname

    def raw_table(self, source: str, member: str) -> str:
        return f"{self.lname}_{source.lower()}_{member}"

    def column(self, name: str) -> Column:
        for c in self.fields:
            if c.name == name:
                return c
        raise KeyError(name)


# Lineage columns every staged and conformed row carries (docs/data-rules.md#staging).
LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("source_effective_date", DATE, "business date of the delivery (the batch's E)"),
    Column("source_file_date", DATE, "date the source published the file"),
    Column("ingestion_timestamp", TIMESTAMP, "UTC time of the run that staged or touched the row"),
    Column("ingestion_batch_id", STRING, "ISO 8601 basic UTC run id, e.g. 20250103T060012.123456Z"),
    Column("fingerprint", STRING, "lower-case hex MD5 over the business fields in declared order"),
    Column("source_system", STRING, "source name, e.g. FDA_NDC"),
)

# SCD Type 2 columns of the conformed table (docs/data-rules.md#conformed-scd2).
IS_CURRENT = Column("is_current", BOOLEAN, "true only for the open version")
SCD2_COLUMNS: tuple[Column, ...] = (
    Column("active_from", DATE, "first day the version is in force (inclusive)"),
    Column("active_to", DATE,
           "first day it is no longer in force (exclusive); 9999-12-31 when open"),
    IS_CURRENT,
)


# Where a row came from in the archive: carried from the raw renditions through staging into
# the conformed table unchanged, so ``ppstack lineage`` can name the file and row of every version.
SOURCE_ROW_COLUMNS: tuple[Column, ...] = (
    Column("_source_file", STRING,
           "archived file the row was read from, e.g. ndctext.zip!package.txt"),
    Column("_source_row", BIGINT, "1-based data row in that file (the header is not counted)"),
)

# The batch that OPENED a conformed version. ``ingestion_batch_id`` is restamped by the batch that
# closes the version (the sync finds closed rows by it), so the opener needs its own column.
OPENED_BATCH = Column("opened_batch_id", STRING, "the batch whose INSERT opened this version")


def staging_columns(spec: EntitySpec) -> tuple[Column, ...]:
    return spec.fields + LINEAGE_COLUMNS + SOURCE_ROW_COLUMNS


def conformed_columns(spec: EntitySpec) -> tuple[Column, ...]:
    """Business fields, SCD2 columns, lineage, the opening batch and the source row: the order of
    the conformed table (docs/data-rules.md#conformed-scd2)."""
    return spec.fields + SCD2_COLUMNS + LINEAGE_COLUMNS + (OPENED_BATCH,) + SOURCE_ROW_COLUMNS
