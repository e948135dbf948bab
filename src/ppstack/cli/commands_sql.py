"""CLI commands of the sql area: ``ppstack query``, ``ppstack sql render``, ``ppstack stage``.

stdout carries data only (query rows, rendered SQL, the stage report); progress goes to stderr.
"""

from __future__ import annotations

from typing import Any

import click

from ppstack.backends import Runtime
from ppstack.cli.context import runtime, say
from ppstack.cli.output import emit_json, format_option, format_param, format_rows
from ppstack.entities import get_entity, get_source
from ppstack.layout import check_batch_id, check_date, new_batch_id
from ppstack.pipeline.render import STEP_TEMPLATES
from ppstack.settings import Settings

# ---- ppstack query ------------------------------------------------------------------------------

# The time-travel options of ``ppstack query`` (the rewriting is ``sql.timetravel.as_of``).
AS_OF_OPTIONS: tuple[click.Option, ...] = (
    click.Option(["--as-of-date", "as_of_date"], default=None, metavar="YYYY-MM-DD",
                 help="Business time: read conformed tables as the versions in force on this "
                      "day (active_from <= D < active_to). Combines with --as-of-snapshot / "
                      "--as-of-time."),
    click.Option(["--as-of-snapshot", "as_of_snapshot"], type=int, default=None,
                 metavar="SNAPSHOT_ID",
                 help="System time: read conformed tables as of this Iceberg snapshot id."),
    click.Option(["--as-of-time", "as_of_time"], default=None, metavar="ISO_INSTANT",
                 help="System time: read conformed tables as committed at this UTC instant."),
)


def _query_command() -> click.Command:
    @click.pass_context
    def query(ctx: click.Context, sql: str, fmt: str, **options: Any) -> None:
        """Run one Athena SQL statement on the active backend's catalog.

        Tables: raw.<entity>_<source>_<member>, staging.<entity>_batch / _rejects (these two
        need WHERE ingestion_batch_id = '<id>'), conformed.<entity>.

        \b
        Example:
          ppstack query "SELECT count(*) FROM conformed.drug WHERE is_current"
          ppstack query --format json "SELECT * FROM staging.drug_batch
            WHERE ingestion_batch_id = '20250103T060012.123456Z' LIMIT 5"

        Time travel on conformed.<entity> tables: --as-of-date D reads the versions in force on
        day D (business time, active_from <= D < active_to); --as-of-snapshot / --as-of-time
        read the table as an Iceberg snapshot committed it (system time). Given together: day D
        as the table stood at that snapshot.

        \b
          ppstack query --as-of-date 2019-04-30 "SELECT ndc, proprietary_name
            FROM conformed.drug WHERE ndc = '00002080001'"
          ppstack query --as-of-date 2019-04-30 --as-of-snapshot 4431203399921377214
            "SELECT count(*) FROM conformed.drug"
        """
        from ppstack.sql.timetravel import as_of

        settings: Settings = ctx.obj["settings"]
        if any(v is not None for v in options.values()):
            sql = as_of(sql, day=options["as_of_date"], snapshot=options["as_of_snapshot"],
                        instant=options["as_of_time"])
        with Runtime(settings) as rt:
            result = rt.engine.execute(sql)
        if not result.columns:
            count = "" if result.rowcount is None else f" ({result.rowcount} rows)"
            click.echo(f"ok{count}", err=True)
            if fmt == "json":
                click.echo("[]")  # a statement without rows is still one JSON document
            return
        click.echo(format_rows(result.columns, result.rows, fmt))

    params: list[click.Parameter] = [
        click.Argument(["sql"]),
        format_param(),
    ]
    params += list(AS_OF_OPTIONS)
    return click.Command("query", callback=query, params=params, help=query.__doc__)


# ---- ppstack sql render -------------------------------------------------------------------------

@click.group("sql")
def sql_group() -> None:
    """Inspect the SQL templates (Athena dialect) the pipeline runs."""


@sql_group.command("render", help=f"""Print the exact SQL a step runs, for the active backend.

TEMPLATE is a step alias or a template name. Steps: {', '.join(STEP_TEMPLATES)}.
The steps stage, close and insert print their statement as the pipeline runs it, headed by its
execution context (catalog, database); with --all every statement of the step, in order.
--backend aws (here or on ppstack) renders conformed tables as
"s3tablescatalog/<table bucket>"."conformed"."<entity>".

\b
Example:
  ppstack sql render stage DRUG --date 2019-04-29
  ppstack sql render close DRUG --backend aws --date 2019-04-29 --batch-id 20190429T060000.000000Z
  ppstack sql render stage DRUG --all --backend aws
""")
@click.argument("template")
@click.argument("entity")
@click.option("--source", default=None, help="Source (default: the entity's first source).")
@click.option("--date", "ingest_date", default=None, metavar="YYYY-MM-DD",
              help="Ingest date of the batch (default: today, UTC).")
@click.option("--batch-id", default=None, help="Batch id (default: a new one).")
@click.option("--backend", type=click.Choice(["local", "aws"]), default=None,
              help="Render for this backend (default: the active one). Nothing is connected.")
@click.option("--all", "every", is_flag=True,
              help="For stage, close, insert: every statement of the step, in order.")
@click.pass_context
def render_command(ctx: click.Context, template: str, entity: str, source: str | None,
                   ingest_date: str | None, batch_id: str | None, backend: str | None,
                   every: bool) -> None:
    batch_id = batch_id or new_batch_id()
    ingest_date = ingest_date or f"{batch_id[0:4]}-{batch_id[4:6]}-{batch_id[6:8]}"
    settings: Settings = ctx.obj["settings"]
    if backend is not None:
        settings = settings.with_(backend=backend)
    from ppstack.pipeline.render import render_step

    click.echo(render_step(settings, template, entity, source, ingest_date, batch_id,
                           every=every))


# ---- ppstack stage ------------------------------------------------------------------------------

@click.command("stage")
@click.argument("entity")
@click.argument("source")
@click.option("--date", "ingest_date", required=True, metavar="YYYY-MM-DD",
              help="Ingest date of the archived delivery to stage.")
@click.option("--batch-id", default=None,
              help="Batch id (default: a new one). Re-running a batch id is a no-op.")
@format_option(rows=False)
@click.pass_context
def stage_command(ctx: click.Context, entity: str, source: str, ingest_date: str,
                  batch_id: str | None, fmt: str) -> None:
    """Stage an archived delivery as one batch: staging/<ENTITY>/<batch id>/ + rejects.

    \b
    Example:
      ppstack stage DRUG FDA_NDC --date 2019-04-29
      ppstack stage LABELER FDA_NDC --date 2019-04-29 --format json
        --batch-id 20190429T060000.000000Z
    """
    from ppstack.pipeline.stage import stage

    spec = get_entity(entity)
    src = get_source(spec, source)
    check_date(ingest_date)
    batch_id = check_batch_id(batch_id) if batch_id else new_batch_id()
    with runtime(ctx) as rt:
        result = stage(rt, spec, src, ingest_date, batch_id, progress=say(ctx))
    if fmt == "json":
        emit_json(result.to_dict())
        return
    click.echo(f"batch_id  {result.batch_id}")
    click.echo(result.report())


COMMANDS: tuple[click.Command, ...] = (_query_command(), sql_group, stage_command)
