"""CLI commands of the demo area. Register click commands in COMMANDS."""

from __future__ import annotations

from pathlib import Path

import click

from ppstack.cli.output import emit_json, emit_rows, format_option
from ppstack.cli.progress import bar_factory
from ppstack.errors import BadInput

# --------------------------------------------------------------------------- ppstack scenario

_SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample" / "fda_ndc"
_SUMMARY_COLUMNS = ("date", "product_rows", "package_rows", "keys", "new", "changed",
                    "disappeared", "reactivated", "duplicates", "unchanged")


@click.command("scenario")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--dates", required=True,
              help="Comma-separated YYYY-MM-DD, increasing; the first is the base snapshot.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Same seed, same files and same recorded changes.")
@click.option("--product", "product", type=click.Path(dir_okay=False), default=None,
              help="Source product.txt (default: the bundled extract).")
@click.option("--package", "package", type=click.Path(dir_okay=False), default=None,
              help="Source package.txt (default: the bundled extract).")
@format_option(help="table or csv: counts per date; json: the whole record, every derived "
                    "change.")
def scenario(out_dir: str, dates: str, seed: int, product: str | None, package: str | None,
             fmt: str) -> None:
    """Derive dated FDA_NDC deliveries from one real snapshot and say exactly what changed.

    Writes OUT_DIR/<date>/product.txt + package.txt per date (source format kept), the expected
    DRUG keys under OUT_DIR/expected/ and the full record in OUT_DIR/scenario.json.

    \b
    Example:
      ppstack scenario /tmp/scn --dates 2019-04-29,2019-04-30,2019-05-01 --seed 7
      ppstack ingest DRUG FDA_NDC /tmp/scn/2019-04-30/*.txt --date 2019-04-30
    """
    from ppstack.scenario import derive_scenario

    product_path = Path(product) if product else _SAMPLE_DIR / "product.txt"
    package_path = Path(package) if package else _SAMPLE_DIR / "package.txt"
    for p in (product_path, package_path):
        if not p.is_file():
            raise BadInput(f"{p} not found; pass --product and --package")
    result = derive_scenario(product_path, package_path, out_dir,
                             dates=[d.strip() for d in dates.split(",") if d.strip()], seed=seed)
    if fmt == "json":
        emit_json(result.to_dict())
        return
    emit_rows(_SUMMARY_COLUMNS, [s.counts() for s in result.snapshots], fmt, align="right")
    click.echo(f"wrote {len(result.snapshots)} snapshot(s) and scenario.json to {out_dir}",
               err=True)


# --------------------------------------------------------------------------- ppstack demo


@click.command("demo")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Keep the API running until Ctrl-C after the walkthrough, or exit.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port of the local API.")
@click.pass_context
def demo(ctx: click.Context, serve: bool, port: int) -> None:
    """Run the whole flow on the bundled real FDA extract, then serve the API.

    Derives three dated deliveries (new, changed, disappeared, reactivated and duplicated
    drugs), archives and ingests each one (raw -> staging -> Iceberg SCD2 -> DynamoDB), prints a
    batch report per batch and real API responses, and leaves the API running until Ctrl-C.
    It empties PPSTACK_HOME first (only a home an earlier demo made).

    \b
    Example:
      ppstack demo
      ppstack --home /tmp/ppdemo demo --no-serve
    """
    from ppstack.demo import run_demo

    settings = ctx.obj["settings"]
    quiet = ctx.obj.get("quiet", False)

    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"  .. {msg}", err=True)

    run_demo(settings, serve=serve, port=port, echo=click.echo, progress=progress,
             meter=bar_factory(quiet))


COMMANDS: tuple[click.Command, ...] = (scenario, demo)
