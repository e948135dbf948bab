"""Layer 2: stage one batch of an entity from one archived delivery (spec §2).

``stage(rt, spec, source, ingest_date, batch_id)`` runs, for ANY entity spec and source:

1. a refusal when nothing is archived for that date (the archive manifest, or at least every
   member's rendition, must exist), so a typo in ``--date`` can never stage an empty batch;
2. the idempotent DDL (``pipeline.bootstrap``);
3. the rejects CTAS, then the batch CTAS (``<staging_template>_rejects`` and
   ``<staging_template>``); each is skipped when its prefix already holds files. Engines write a
   CTAS atomically into an empty prefix (Athena refuses a non-empty one), so a prefix with files
   is a finished CTAS, and a crash between the two statements is resumed by running again;
4. DROP of both per-batch CTAS tables (the files stay; the stable tables read them);
5. counts read back with queries: staged and distinct keys (``stage_count_batch``), rejects by
   reason code (``stage_count_rejects``; code ``duplicate`` = duplicates) and the entity's own
   counts (``<staging_template>_counts``: rows_read, excluded, invalid_dates, ...).

Nothing here knows DRUG or LABELER: all entity logic is in the templates named by the spec.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, Source
from ppstack.errors import BadInput, NotFound, Refused
from ppstack.layout import STAGING_NS, rendition_prefix, staged_prefix
from ppstack.pipeline.batch import BatchParams, Statement
from ppstack.pipeline.bootstrap import bootstrap_statements
from ppstack.progress import Progress
from ppstack.sql import template_names

DUPLICATE_CODE = "duplicate"


@dataclass
class StageResult:
    """What one staging run did. ``rows_read = staged + duplicates + rejected + excluded`` for
    entities with one row per source row (DRUG); aggregating entities (LABELER) report how many
    rows they folded in ``extra['aggregated']`` instead of duplicates."""

    entity: str
    source: str
    ingest_date: str
    batch_id: str
    rows_read: int = 0
    excluded: int = 0
    rejected: int = 0
    duplicates: int = 0
    staged: int = 0
    invalid_dates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # reject reason_code -> rows
    extra: dict[str, int] = field(default_factory=dict)  # further counts of the entity template
    skipped: list[str] = field(default_factory=list)  # CTAS steps already done by an earlier run
    staging_uri: str = ""
    rejects_uri: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def report(self) -> str:
        """A short human-readable summary (the CLI prints it on stderr, the dict on stdout)."""
        lines = [
            f"{self.entity} {self.source} {self.ingest_date} batch {self.batch_id}",
            f"  read {self.rows_read:,}  staged {self.staged:,}  duplicates {self.duplicates:,}  "
            f"rejected {self.rejected:,}  excluded {self.excluded:,}  "
            f"invalid dates {self.invalid_dates:,}",
        ]
        for code, n in sorted(self.reasons.items()):
            lines.append(f"  reject {code}: {n:,}")
        for name, n in sorted(self.extra.items()):
            lines.append(f"  {name}: {n:,}")
        if self.skipped:
            lines.append(f"  already done earlier: {', '.join(self.skipped)}")
        lines.append(f"  staging: {self.staging_uri}")
        lines.append(f"  total {sum(self.timings.values()):.2f} s")
        return "\n".join(lines)


def stage(rt: Runtime, spec: EntitySpec, source: str | Source, ingest_date: str, batch_id: str,
          progress: Progress | None = None) -> StageResult:
    """Stage ``ingest_date``'s archived delivery of ``source`` as batch ``batch_id`` of ``spec``.

    Raises BadInput when nothing is archived for the date, Refused when the batch id already
    holds a batch of another date; re-running a finished batch changes nothing.
    """
    return run_stage(rt, BatchParams.build(rt.settings, spec, source, ingest_date, batch_id),
                     progress)


def run_stage(rt: Runtime, batch: BatchParams, progress: Progress | None = None) -> StageResult:
    """``stage`` for a batch whose parameters are built: the stage step's statements, then its
    counts, with a timing per phase (``ppstack stage``, benches)."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    require_archived(rt, batch.spec, batch.source, batch.ingest_date)
    phases = stage_phases(batch, lambda prefix: bool(rt.store.list(prefix)))
    timings = {"prepare": time.perf_counter() - t0}
    for phase in phases:
        t0 = time.perf_counter()
        if phase.skipped:
            say(f"{phase.label}: already written; skipped")
        for statement in phase.statements:
            rt.engine.execute(statement.sql, statement.context)
        timings[phase.label] = timings.get(phase.label, 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    result = stage_counts(rt, batch)
    result.skipped = [p.label for p in phases if p.skipped]
    timings["count"] = time.perf_counter() - t0
    result.timings = timings
    say(result.report())
    return result


def staging_template(batch: BatchParams) -> str:
    """The entity's staging template for the batch's source (BadInput when it has none)."""
    template = batch.spec.staging_template.get(batch.source.name)
    if not template:
        raise BadInput(f"{batch.spec.name} has no staging template for source {batch.source.name}")
    return template


class Phase(NamedTuple):
    label: str  # prepare | rejects | batch (StageResult.timings, .skipped)
    statements: list[Statement]
    skipped: bool = False  # its CTAS was written by an earlier run and is left out


def stage_phases(batch: BatchParams, written: Callable[[str], bool]) -> list[Phase]:
    """The stage step's statements by phase, in order: ``prepare`` (the idempotent DDL), then
    ``rejects`` and ``batch``: each a CTAS, left out when its prefix already holds files (engines
    write a CTAS atomically into an empty prefix and Athena refuses a non-empty one, so files mean
    a finished CTAS), then the DROP of the CTAS table. The CTAS table is only the vehicle of the
    write; a crash after the CTAS leaves it behind, so the DROP runs either way.
    ``written(prefix)`` says whether a prefix holds files (the object store; rendering: never).
    """
    template = staging_template(batch)
    spec, batch_id = batch.spec, batch.batch_id
    phases = [Phase("prepare", bootstrap_statements(batch))]
    for label, name, prefix, table_param in (
        ("rejects", f"{template}_rejects", staged_prefix(spec.name, batch_id, "rejects"),
         "rejects_ctas_table"),
        ("batch", template, staged_prefix(spec.name, batch_id), "staging_ctas_table"),
    ):
        done = written(prefix)
        statements = [] if done else [batch.statement(name, STAGING_NS)]
        statements.append(batch.statement("stage_drop_ctas", STAGING_NS,
                                          drop_table=batch.params[table_param]))
        phases.append(Phase(label, statements, done))
    return phases


def stage_statements(batch: BatchParams, written: Callable[[str], bool]) -> list[Statement]:
    """The statements of the stage step, in execution order (see ``stage_phases``)."""
    return [s for phase in stage_phases(batch, written) for s in phase.statements]


def require_archived(rt: Runtime, spec: EntitySpec, source: Source, ingest_date: str) -> None:
    """BadInput unless every member of ``source`` has a rendition for ``ingest_date``.

    The archive manifest is the proof of a completed archive; renditions are checked as well,
    because the SQL reads them, not the manifest.
    """
    hint = (f"nothing archived for {spec.name} {source.name} {ingest_date}: run "
            f"`ppstack archive {spec.name} {source.name} FILE... --date {ingest_date}` first")
    from ppstack.raw.archive import load_manifest  # lazy: pyarrow comes with the raw layer

    try:
        load_manifest(rt, spec, source, ingest_date)
    except NotFound:
        raise BadInput(hint) from None
    missing = [m.name for m in source.members
               if not rt.store.list(rendition_prefix(spec.name, source.name, ingest_date, m.name))]
    if missing:
        raise BadInput(f"{hint} (no rendition of {', '.join(missing)})")


def stage_counts(rt: Runtime, batch: BatchParams) -> StageResult:
    """What the staging Athena (or the local engine) just wrote, read back with queries.

    Refused when staging breaks its one-row-per-key promise or the batch id already holds
    staging of another date.
    """
    spec = batch.spec
    result = StageResult(spec.name, batch.source.name, batch.ingest_date, batch.batch_id,
                         staging_uri=batch.params["staging_location"],
                         rejects_uri=batch.params["rejects_location"])
    template = staging_template(batch)
    context = batch.context(STAGING_NS)
    batch_row = rt.engine.execute(batch.sql("stage_count_batch"), context).dicts()[0]
    staged, distinct = int(batch_row["staged"] or 0), int(batch_row["distinct_keys"] or 0)
    if staged != distinct:
        # The staging template broke its one-row-per-key promise: stop before SCD2 reads it.
        raise Refused(f"{spec.name} batch {result.batch_id} has {staged} rows but {distinct} "
                      f"distinct {spec.key} values; staging must hold one row per key")
    dates = {str(v) for v in (batch_row.get("first_file_date"), batch_row.get("last_file_date"))
             if v}
    if dates and dates != {result.ingest_date}:
        raise Refused(f"batch {result.batch_id} already holds {spec.name} staged from "
                      f"{', '.join(sorted(dates))}, not {result.ingest_date}; use a new batch id")
    result.staged = staged
    for row in rt.engine.execute(batch.sql("stage_count_rejects"), context).dicts():
        result.reasons[str(row["reason_code"])] = int(row["row_count"])
    result.duplicates = result.reasons.pop(DUPLICATE_CODE, 0)
    result.rejected = sum(result.reasons.values())
    counts_template = f"{template}_counts"
    if counts_template in template_names():
        rows = rt.engine.execute(batch.sql(counts_template), context).dicts()
        for name, value in (rows[0] if rows else {}).items():
            n = int(value or 0)
            if name in ("rows_read", "excluded", "invalid_dates"):
                setattr(result, name, n)
            else:
                result.extra[name] = n
    return result


def ledger_result(result: StageResult) -> dict[str, Any]:
    """What the stage step records in the ledger: the result, with the batch report's counts."""
    out = result.to_dict()
    counts = {
        "read": out.get("rows_read"),
        "excluded": out.get("excluded"),
        "rejected": out.get("rejected"),
        "duplicates": out.get("duplicates"),
        "staged": out.get("staged"),
        "invalid_dates": out.get("invalid_dates"),
    }
    out["counts"] = {k: v for k, v in counts.items() if v is not None}
    return out
