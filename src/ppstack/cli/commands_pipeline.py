"""CLI commands of the pipeline area: ``run``, ``ingest`` (= archive + run), ``status`` and
``abandon``.

Progress goes to stderr; stdout carries the batch report (or the status listing) only. Guard
refusals and the lock are ``Refused`` / ``Locked`` errors, which ``cli.main`` turns into exit
code 2 with their message.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ppstack.backends import Runtime
from ppstack.cli.context import runtime, say
from ppstack.cli.output import emit_record, emit_rows, format_option
from ppstack.cli.progress import bar_factory
from ppstack.entities import get_entity, get_source
from ppstack.layout import check_date
from ppstack.pipeline.ledger import BatchRecord


def run_archived(ctx: click.Context, rt: Runtime, entity: str, source: str, ingest_date: str,
         allow_mass_delete: bool, fmt: str, until: str | None = None,
         accept_spec_change: bool = False) -> None:
    """Run the batch of an archived delivery and print its report (``run``, ``ingest``,
    ``fetch --run``)."""
    from ppstack.pipeline.ledger import Ledger
    from ppstack.pipeline.run import run_batch

    spec = get_entity(entity)
    try:
        record = run_batch(rt, spec, source, ingest_date, allow_mass_delete=allow_mass_delete,
                           progress=say(ctx),
                           meter=bar_factory(bool(ctx.obj.get("quiet"))), until=until,
                           accept_spec_change=accept_spec_change)
    except Exception:
        # The failed batch's report still goes out (state, step, error), then the error itself.
        latest = Ledger(rt.store).latest(spec.name)
        if latest is not None and latest.ingest_date == ingest_date and latest.error:
            _emit_batch(latest, fmt)
        raise
    _emit_batch(record, fmt)


def _emit_batch(record: BatchRecord, fmt: str) -> None:
    """The batch report (table) or the whole ledger record (json) on stdout."""
    from ppstack.pipeline.run import report

    emit_record(json.loads(record.to_json()), fmt, table=lambda: report(record))


_allow = click.option("--allow-mass-delete", is_flag=True,
                      help="Apply a batch that closes more than the configured share "
                           "(PPSTACK_MASS_DELETE_THRESHOLD, default 5 %) of current keys.")
_format = format_option(rows=False, help="Batch report on stdout: table (the report) or json "
                                          "(the whole ledger record).")


@click.command("run")
@click.argument("entity")
@click.argument("source")
@click.option("--date", "ingest_date", required=True, metavar="YYYY-MM-DD",
              help="Ingest date of an archived delivery: the batch's effective date.")
@_allow
@_format
@click.option("--until", "until", metavar="STEP", default=None,
              help="Stop after this step (staged, closed, inserted, synced); a later run of "
                   "the same date resumes from there.")
@click.option("--accept-spec-change", is_flag=True,
              help="The entity spec's fields differ from the ones conformed was built with: "
                   "add the columns and let this batch record the resulting changes.")
@click.pass_context
def run_command(ctx: click.Context, entity: str, source: str, ingest_date: str,
                allow_mass_delete: bool, fmt: str, until: str | None,
                accept_spec_change: bool) -> None:
    """Apply an archived delivery: stage -> close -> insert -> sync, with a ledger record.

    Resumes the latest batch from its last completed step when it failed; a completed date is
    a no-op; dates must increase per entity type. --until stops after a step (e.g. to inspect
    the conformed table before the DynamoDB sync); running the date again resumes.

    \b
    Example:
      ppstack run DRUG FDA_NDC --date 2019-04-29
      ppstack run DRUG FDA_NDC --date 2019-04-30 --allow-mass-delete
      ppstack run DRUG FDA_NDC --date 2019-04-30 --until inserted
    """
    from ppstack.pipeline.run import until_state
    from ppstack.pipeline.steps import default_steps

    check_date(ingest_date)
    until_state(default_steps(), until)  # refuse an unknown step before touching anything
    with runtime(ctx) as rt:
        run_archived(ctx, rt, entity, source, ingest_date, allow_mass_delete, fmt, until,
                     accept_spec_change)


@click.command("ingest")
@click.argument("entity")
@click.argument("source")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "ingest_date", required=True, metavar="YYYY-MM-DD",
              help="The date the source published the files (the batch's effective date).")
@_allow
@_format
@click.pass_context
def ingest_command(ctx: click.Context, entity: str, source: str, files: tuple[Path, ...],
                   ingest_date: str, allow_mass_delete: bool, fmt: str) -> None:
    """Archive the files write-once, then run the batch (= ppstack archive + ppstack run).

    \b
    Example:
      ppstack ingest DRUG FDA_NDC product.txt package.txt --date 2019-04-29
    """
    from ppstack.raw.archive import archive

    spec = get_entity(entity)
    src = get_source(spec, source)
    check_date(ingest_date)
    with runtime(ctx) as rt:
        archive(rt, spec, src, list(files), ingest_date, progress=say(ctx))
        run_archived(ctx, rt, entity, source, ingest_date, allow_mass_delete, fmt)


STATUS_COLUMNS = ("batch_id", "date", "state", "kind", "replay", "read", "rejected", "staged",
                  "inserted", "updated", "deleted", "unchanged", "seconds", "error")


@click.command("status")
@click.argument("entity")
@format_option()
@click.pass_context
def status_command(ctx: click.Context, entity: str, fmt: str) -> None:
    """List the batch ledger of an entity type, oldest first.

    \b
    Example:
      ppstack status DRUG
      ppstack status DRUG --format json
    """
    from ppstack.pipeline.run import status_rows

    with runtime(ctx) as rt:
        rows = status_rows(rt, entity)
    if not rows and fmt == "table":
        click.echo(f"no batches for {get_entity(entity).name}", err=True)
        return
    # The table shows the columns that fit a terminal; json and csv carry every field.
    columns = list(rows[0]) if rows and fmt != "table" else list(STATUS_COLUMNS)
    emit_rows(columns, rows, fmt)


@click.command("abandon")
@click.argument("entity")
@click.option("--batch-id", "batch_id", required=True, metavar="BATCH_ID",
              help="The unfinished batch to give up (see ppstack status ENTITY).")
@click.option("--reason", required=True, help="Why, in words; kept in the ledger record.")
@_format
@click.pass_context
def abandon_command(ctx: click.Context, entity: str, batch_id: str, reason: str, fmt: str) -> None:
    """Give up a batch that failed or stopped before 'closed', so a later date can run.

    Allowed only while the conformed table is untouched by the batch (e.g. the mass-delete
    guard refused a truncated file); a batch past 'closed' must be finished with ppstack run.
    The ledger record stays, with state 'abandoned' and the reason.

    \b
    Example:
      ppstack abandon DRUG --batch-id 20190430T060000.000000Z --reason "truncated package.txt"
    """
    from ppstack.pipeline.run import abandon_batch

    with runtime(ctx) as rt:
        record = abandon_batch(rt, entity, batch_id, reason)
    _emit_batch(record, fmt)


@click.command("maintain")
@click.argument("entity")
@click.option("--max-snapshot-age-hours", "max_age_hours", type=float, default=None,
              help="Expire snapshots older than this (default 720, as the deployment "
                   "configures S3 Tables).")
@click.option("--min-snapshots", "min_keep", type=int, default=None,
              help="Always keep at least this many newest snapshots (default 30).")
@format_option(rows=False, help="Output format of the report: table or json.")
@click.pass_context
def maintain_command(ctx: click.Context, entity: str, max_age_hours: float | None,
                     min_keep: int | None, fmt: str) -> None:
    """Compact the local conformed table and expire old snapshots (local backend).

    What S3 Tables does by itself on AWS: small data files and position deletes are rewritten
    into compacted files (one snapshot with the same rows), then snapshots older than
    the retention are expired, keeping the newest ones. Table content and time travel within
    the retention are unchanged. Takes the entity's lock.

    \b
    Example:
      ppstack maintain DRUG
      ppstack maintain DRUG --max-snapshot-age-hours 168 --min-snapshots 10
    """
    from ppstack.engine.maintenance import MAX_SNAPSHOT_AGE_HOURS, MIN_SNAPSHOTS_TO_KEEP
    from ppstack.pipeline.maintain import maintain_entity

    with runtime(ctx) as rt:
        report = maintain_entity(
            rt, entity,
            max_age_hours=MAX_SNAPSHOT_AGE_HOURS if max_age_hours is None else max_age_hours,
            min_keep=MIN_SNAPSHOTS_TO_KEEP if min_keep is None else min_keep)
    emit_record(report.to_dict(), fmt)


COMMANDS: tuple[click.Command, ...] = (run_command, ingest_command, status_command,
                                       abandon_command, maintain_command)
