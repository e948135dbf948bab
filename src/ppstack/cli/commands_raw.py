"""CLI commands of the raw area: ``ppstack archive``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ppstack.cli.context import runtime, say
from ppstack.entities import get_entity, get_source
from ppstack.layout import check_date


@click.command("archive")
@click.argument("entity")
@click.argument("source")
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "ingest_date", required=True, metavar="YYYY-MM-DD",
              help="Date the source published the files (the archive's ingest date).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Report format on stdout.")
@click.pass_context
def archive(ctx: click.Context, entity: str, source: str, files: tuple[Path, ...],
            ingest_date: str, fmt: str) -> None:
    """Archive a source delivery write-once, with UTF-8 Parquet renditions.

    FILE is ndctext.zip, the product and package text files (any names), or .xlsx/.xls
    workbooks. Everything is checked before anything is written; re-archiving identical files
    is a no-op, different files for an archived date are refused.

    \b
    Example:
      ppstack archive DRUG FDA_NDC product.txt package.txt --date 2019-04-29
      ppstack archive DRUG FDA_NDC ndctext.zip --date 2019-04-29 --format json
    """
    from ppstack.raw.archive import archive as run_archive

    spec = get_entity(entity)
    src = get_source(spec, source)
    check_date(ingest_date)
    with runtime(ctx) as rt:
        result = run_archive(rt, spec, src, list(files), ingest_date, progress=say(ctx))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    state = "already archived (no change)" if result.already_archived else "archived"
    click.echo(f"{result.entity} {result.source} {result.ingest_date}: {state}")
    click.echo(f"manifest  {rt.store.uri(result.manifest_key)}")
    for f in result.files:
        click.echo(f"file      {f.name}  {f.size} bytes  sha256 {f.sha256}")
    for m in result.members.values():
        click.echo(f"member    {m.name}  {m.rows} rows  from {m.source_file}  -> {m.key}")


COMMANDS: tuple[click.Command, ...] = (archive,)
