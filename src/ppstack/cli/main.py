"""``ppstack`` entry point: global options, error translation, and command registration.

Each area registers its commands in its own module (``commands_*.py``) so this file stays small.
Errors from the layers are ``PpstackError``s; they are printed to stderr and turned into exit
codes here and nowhere else (0 ok, 1 failed, 2 bad usage or refused input).
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from ppstack.errors import PpstackError
from ppstack.settings import load_settings

COMMAND_MODULES = (
    "ppstack.cli.commands_raw",
    "ppstack.cli.commands_sql",
    "ppstack.cli.commands_pipeline",
    "ppstack.cli.commands_serving",
    "ppstack.cli.commands_api",
    "ppstack.cli.commands_demo",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--backend", type=click.Choice(["local", "aws"]), default=None,
              help="Where to run: local (default; DuckDB + pyiceberg + dynalite) or aws.")
@click.option("--home", default=None, envvar="PPSTACK_HOME", show_envvar=True,
              help="Local state directory (default ./.ppstack).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@click.pass_context
def cli(ctx: click.Context, backend: str | None, home: str | None, quiet: bool) -> None:
    """ppstack: FDA NDC files -> S3 raw archive -> staging -> Iceberg SCD2 -> DynamoDB -> API.

    \b
    Example:
      ppstack ingest DRUG FDA_NDC product.txt package.txt --date 2019-04-29
      ppstack query "SELECT count(*) FROM conformed.drug WHERE is_current"
    """
    ctx.ensure_object(dict)
    ctx.obj["settings"] = load_settings(backend=backend, home=home)
    ctx.obj["quiet"] = quiet


def _register() -> None:
    for name in COMMAND_MODULES:
        module = import_module(name)
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="ppstack", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except PpstackError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
