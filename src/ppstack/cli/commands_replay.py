"""CLI commands of reprocessing: ``replay`` (rebuild conformed from the archive) and ``lineage``
(where a version came from)."""

from __future__ import annotations

import json

import click

from ppstack.cli.context import runtime, say
from ppstack.cli.output import format_option
from ppstack.cli.progress import bar_factory
from ppstack.entities import get_entity
from ppstack.layout import check_date


@click.command("replay")
@click.argument("entity")
@click.option("--from", "from_date", metavar="YYYY-MM-DD",
              help="Keep the history before this date; replay deliveries dated on or after it.")
@click.option("--to", "to_date", metavar="YYYY-MM-DD",
              help="Replay deliveries dated up to this date only.")
@click.option("--dry-run", is_flag=True,
              help="List the deliveries it would apply and the changes each would make.")
@click.option("--allow-mass-delete", is_flag=True,
              help="Let replayed deliveries close more than the mass-delete share of keys.")
@format_option(rows=False)
@click.pass_context
def replay_command(ctx: click.Context, entity: str, from_date: str | None, to_date: str | None,
                   dry_run: bool, allow_mass_delete: bool, fmt: str) -> None:
    """Rebuild conformed.<entity> from the archived deliveries, in date order.

    The same stage -> close -> insert statements as a run write a new table; its invariants are
    checked; it is promoted and the table it replaces is kept under a dated name; DynamoDB is
    then brought in step (the API keeps answering). Resumable: after a crash, run the same
    command again. Refused while a batch or another replay holds the entity's lock.

    \b
    Example:
      ppstack replay DRUG --from 2019-04-30 --dry-run
      ppstack replay DRUG --from 2019-04-30
      ppstack replay DRUG
    """
    from ppstack.pipeline.replay import dry_run as plan
    from ppstack.pipeline.replay import replay, replay_batches, replay_report

    for value, what in ((from_date, "--from"), (to_date, "--to")):
        if value is not None:
            check_date(value, what)
    spec = get_entity(entity)
    with runtime(ctx) as rt:
        if dry_run:
            planned = plan(rt, spec, from_date, to_date)
            if fmt == "json":
                click.echo(json.dumps([p.to_dict() for p in planned], indent=2))
                return
            click.echo("date        source   staged batch              inserted  updated  "
                       "deleted  unchanged")
            for p in planned:
                c = p.counts
                figures = ("  ".join(f"{c[k]:>{w},}" for k, w in (
                    ("inserted", 8), ("updated", 7), ("deleted", 7), ("unchanged", 9)))
                           if c else p.note)
                click.echo(f"{p.ingest_date}  {p.source:<7}  {p.staged_batch or '-':<24}  "
                           f"{figures}")
            return
        record = replay(rt, spec, from_date=from_date, to_date=to_date,
                        allow_mass_delete=allow_mass_delete, progress=say(ctx),
                        meter=bar_factory(bool(ctx.obj.get("quiet"))))
        batches = replay_batches(rt, record)
    if fmt == "json":
        click.echo(json.dumps({"replay": json.loads(record.to_json()),
                               "batches": [json.loads(b.to_json()) for b in batches]}, indent=2))
    else:
        click.echo(replay_report(record, batches))


@click.command("lineage")
@click.argument("entity")
@click.argument("entity_id", metavar="ID")
@format_option(rows=False)
@click.pass_context
def lineage_command(ctx: click.Context, entity: str, entity_id: str, fmt: str) -> None:
    """Every version of one entity: interval, opening and closing batch, raw files and row.

    \b
    Example:
      ppstack lineage DRUG 00002322730
      ppstack lineage DRUG 0002-3227-30 --format json
    """
    from ppstack.pipeline.lineage import lineage

    with runtime(ctx) as rt:
        versions = lineage(rt, entity, entity_id)
    if fmt == "json":
        click.echo(json.dumps(versions, indent=2, default=str))
        return
    for v in versions:
        click.echo(f"{v['entity_id']}  {v['active_from']} .. {v['active_to']}"
                   + ("  (current)" if v["is_current"] else ""))
        click.echo(f"  opened by  {v['opened_batch_id']}  {v['opened_by'] or ''}".rstrip())
        if v["closed_batch_id"]:
            click.echo(f"  closed by  {v['closed_batch_id']}  {v['closed_by'] or ''}".rstrip())
        click.echo(f"  source     {v['source_file']} row {v['source_row']}")
        for f in v["raw_files"]:
            click.echo(f"  raw        {f.get('key')}  sha256 {f.get('sha256')}  "
                       f"{f.get('size')} bytes")


COMMANDS: tuple[click.Command, ...] = (replay_command, lineage_command)
