"""CLI commands of the raw area: ``ppstack archive`` and ``ppstack fetch``."""

from __future__ import annotations

from pathlib import Path

import click

from ppstack.cli.context import runtime, say
from ppstack.cli.output import emit_json, format_option
from ppstack.entities import get_entity, get_source
from ppstack.layout import check_date


@click.command("archive")
@click.argument("entity")
@click.argument("source")
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "ingest_date", required=True, metavar="YYYY-MM-DD",
              help="Date the source published the files (the archive's ingest date).")
@format_option(rows=False)
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
        emit_json(result.to_dict())
        return
    state = "already archived (no change)" if result.already_archived else "archived"
    click.echo(f"{result.entity} {result.source} {result.ingest_date}: {state}")
    click.echo(f"manifest  {rt.store.uri(result.manifest_key)}")
    for f in result.files:
        click.echo(f"file      {f.name}  {f.size} bytes  sha256 {f.sha256}")
    for m in result.members.values():
        click.echo(f"member    {m.name}  {m.rows} rows  from {m.source_file}  -> {m.key}")




@click.command("fetch")
@click.argument("entity")
@click.argument("source")
@click.option("--url", default=None, metavar="URL",
              help="Download from here instead of the source's publisher URL.")
@click.option("--date", "ingest_date", default=None, metavar="YYYY-MM-DD",
              help="Ingest date; default: the UTC date of the response's Last-Modified, "
                   "else today (UTC).")
@click.option("--run", "run_batch", is_flag=True,
              help="Run the batch (stage -> close -> insert -> sync) after archiving.")
@click.option("--allow-mass-delete", is_flag=True, help="With --run: see ppstack run --help.")
@click.option("--max-mb", type=click.IntRange(1), default=512, show_default=True,
              help="Refuse a body larger than this many MiB.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds the server may stay silent before the download is refused.")
@format_option(rows=False)
@click.pass_context
def fetch(ctx: click.Context, entity: str, source: str, url: str | None,
          ingest_date: str | None, run_batch: bool, allow_mass_delete: bool, max_mb: int,
          timeout: float, fmt: str) -> None:
    """Download the source's publication and archive it, unless it did not change.

    A conditional GET (the ETag / Last-Modified remembered from the last fetch) and the sha256
    of the latest archived delivery make an unchanged publication a reported no-op. An HTTP
    error, a timeout, a truncated, empty, oversized or non-zip body is refused with nothing
    written.

    \b
    Example:
      ppstack fetch DRUG FDA_NDC                  # https://www.accessdata.fda.gov/cder/ndctext.zip
      ppstack fetch DRUG FDA_NDC --run            # ... and apply it when it is new
      ppstack fetch DRUG FDA_NDC --url http://127.0.0.1:8000/ndctext.zip --date 2019-04-29
    """
    from ppstack.cli.commands_pipeline import run_archived
    from ppstack.cli.progress import bar_factory
    from ppstack.raw.fetch import ARCHIVED
    from ppstack.raw.fetch import fetch as run_fetch

    spec = get_entity(entity)
    src = get_source(spec, source)
    if ingest_date is not None:
        check_date(ingest_date)
    with runtime(ctx) as rt:
        result = run_fetch(rt, spec, src, url=url, ingest_date=ingest_date,
                           max_bytes=max_mb << 20, timeout=timeout, progress=say(ctx),
                           meter=bar_factory(bool(ctx.obj.get("quiet"))))
        if fmt == "json" and not run_batch:
            emit_json(result.to_dict())
        else:
            where = f" ({result.ingest_date})" if result.ingest_date else ""
            line = f"{result.entity} {result.source}: {result.status}{where}: {result.reason}"
            click.echo(line, err=run_batch and fmt == "json")
        if run_batch and result.status == ARCHIVED:
            run_archived(ctx, rt, spec.name, src.name, result.ingest_date, allow_mass_delete,
                         fmt)


COMMANDS: tuple[click.Command, ...] = (archive, fetch)
