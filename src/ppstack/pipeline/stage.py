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
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import get_source
from ppstack.entities.spec import EntitySpec, Source
from ppstack.errors import BadInput, NotFound, Refused
from ppstack.layout import (
    check_batch_id,
    check_date,
    rejects_prefix,
    rendition_prefix,
    staging_prefix,
)
from ppstack.pipeline.bootstrap import bootstrap
from ppstack.sql import render, template_names
from ppstack.sql.params import batch_params, entity_params

Progress = Callable[[str], None]

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
            f"rejected {self.rejected:,}  excluded {self.excluded:,}  invalid dates {self.invalid_dates:,}",
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
    say = progress or (lambda _msg: None)
    check_date(ingest_date, "ingest date")
    check_batch_id(batch_id)
    src = source if isinstance(source, Source) else get_source(spec, source)
    template = spec.staging_template.get(src.name)
    if not template:
        raise BadInput(f"{spec.name} has no staging template for source {src.name}")
    result = StageResult(spec.name, src.name, ingest_date, batch_id)
    timings = result.timings
    store = rt.store

    t0 = time.perf_counter()
    require_archived(rt, spec, src, ingest_date)
    bootstrap(rt, spec)
    timings["prepare"] = time.perf_counter() - t0

    params = entity_params(spec, rt.engine, rt.settings.bucket)
    params.update(batch_params(spec, src, ingest_date, batch_id, rt.settings.bucket))
    result.staging_uri = params["staging_location"]
    result.rejects_uri = params["rejects_location"]

    steps = (
        ("rejects", f"{template}_rejects", rejects_prefix(spec.name, batch_id), "rejects_ctas_table"),
        ("batch", template, staging_prefix(spec.name, batch_id), "ctas_table"),
    )
    for label, name, prefix, table_param in steps:
        t0 = time.perf_counter()
        if store.list(prefix):
            say(f"{label}: {store.uri(prefix)} already written; skipped")
            result.skipped.append(label)
        else:
            say(f"{label}: writing {store.uri(prefix)}")
            rt.engine.execute(render(name, params))
        # The CTAS table is only the vehicle of the write; a crash after the CTAS leaves it
        # behind, so the drop runs whether or not the CTAS ran now.
        rt.engine.execute(render("stage_drop_ctas", {**params, "drop_table": params[table_param]}))
        timings[label] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _count(rt, spec, template, params, result)
    timings["count"] = time.perf_counter() - t0
    say(result.report())
    return result


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


def _count(rt: Runtime, spec: EntitySpec, template: str, params: dict[str, str],
           result: StageResult) -> None:
    batch = rt.engine.execute(render("stage_count_batch", params)).dicts()[0]
    staged, distinct = int(batch["staged"] or 0), int(batch["distinct_keys"] or 0)
    if staged != distinct:
        # The staging template broke its one-row-per-key promise: stop before SCD2 reads it.
        raise Refused(f"{spec.name} batch {result.batch_id} has {staged} rows but {distinct} "
                      f"distinct {spec.key} values; staging must hold one row per key")
    dates = {str(v) for v in (batch.get("first_file_date"), batch.get("last_file_date")) if v}
    if dates and dates != {result.ingest_date}:
        raise Refused(f"batch {result.batch_id} already holds {spec.name} staged from "
                      f"{', '.join(sorted(dates))}, not {result.ingest_date}; use a new batch id")
    result.staged = staged
    for row in rt.engine.execute(render("stage_count_rejects", params)).dicts():
        result.reasons[str(row["reason_code"])] = int(row["row_count"])
    result.duplicates = result.reasons.pop(DUPLICATE_CODE, 0)
    result.rejected = sum(result.reasons.values())
    counts_template = f"{template}_counts"
    if counts_template in template_names():
        rows = rt.engine.execute(render(counts_template, params)).dicts()
        for name, value in (rows[0] if rows else {}).items():
            n = int(value or 0)
            if name in ("rows_read", "excluded", "invalid_dates"):
                setattr(result, name, n)
            else:
                result.extra[name] = n
