"""CLI commands of the api area: ``ppstack serve``."""

from __future__ import annotations

import contextlib

import click

from ppstack.cli.context import runtime, say
from ppstack.settings import Settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; keep the loopback default unless you mean to share it.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 = any free port).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the read API locally: the Lambda handlers behind a small HTTP server.

    Starts the local DynamoDB server (dynalite) when needed and creates the table if missing.
    Logs one line per request to stderr; stop with Ctrl-C (or ppstack services stop). A DynamoDB
    server it started stops with it.

    \b
    Example:
      ppstack serve --port 8080
      curl 'http://127.0.0.1:8080/drug/0002-3227-30'
    """
    from ppstack.api.local_server import make_server, prepare
    from ppstack.services import API, register

    settings: Settings = ctx.obj["settings"]
    with runtime(ctx) as rt:
        endpoint = prepare(rt)
        server = make_server(host, port)
        base = f"http://{host}:{server.server_address[1]}"
        unregister = register(settings, API, base)
        try:
            say(ctx)(f"DynamoDB: {endpoint} table {settings.dynamodb_table}")
            # The base URL and examples are the command's output (stdout); logs go to stderr.
            click.echo(base)
            click.echo(f"  curl '{base}/drug/0002-3227-30'")
            click.echo(f"  curl '{base}/drug/00002322730/history'")
            click.echo(f"  curl '{base}/search/drug?q=atomox*+lilly&limit=5'")
            click.echo(f"  curl '{base}/openapi.yaml'")
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
        finally:
            unregister()
            server.server_close()


COMMANDS: tuple[click.Command, ...] = (serve,)
