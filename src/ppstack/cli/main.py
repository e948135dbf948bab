"""``ppstack`` entry point: global options, error translation, and command registration.

Each area registers its commands in its own module (``commands_*.py``) so this file stays small.
Every error ends here and nowhere else: printed to stderr as one or two lines (what failed, and
the command that resumes; ``cli.failures``), turned into an exit code (0 ok, 1 failed, 2 bad usage
or refused input, 130 interrupted). A traceback is printed only with ``--debug``. SIGTERM (e.g.
``ppstack services stop``) ends a command like Ctrl-C, through the same clean-up.
"""

from __future__ import annotations

import signal
import sys
import traceback
from types import FrameType

import click

from ppstack.cli import (
    commands_api,
    commands_demo,
    commands_pipeline,
    commands_raw,
    commands_replay,
    commands_services,
    commands_serving,
    commands_sql,
)
from ppstack.cli.failures import INTERRUPTED, explain
from ppstack.settings import load_settings

# The modules that declare the commands, one per area (each exports COMMANDS).
COMMAND_MODULES = (commands_raw, commands_sql, commands_pipeline, commands_serving,
                   commands_replay, commands_api, commands_demo, commands_services)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--backend", type=click.Choice(["local", "aws"]), default=None,
              help="Where to run: local (default; DuckDB + pyiceberg + dynalite) or aws.")
@click.option("--home", default=None, envvar="PPSTACK_HOME", show_envvar=True,
              help="Local state directory (default ./.ppstack).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@click.option("--debug", is_flag=True, help="Print the full traceback when a command fails.")
@click.pass_context
def cli(ctx: click.Context, backend: str | None, home: str | None, quiet: bool,
        debug: bool) -> None:
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
    for module in COMMAND_MODULES:
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=args, prog_name="ppstack", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of Ctrl-C
        click.echo(explain(KeyboardInterrupt(), args)[0], err=True)
        sys.exit(INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except (Exception, KeyboardInterrupt) as e:
        if "--debug" in args:
            traceback.print_exc()
        message, code = explain(e, args)
        click.echo(f"error: {message}" if code != INTERRUPTED else message, err=True)
        sys.exit(code)
    sys.exit(0)
