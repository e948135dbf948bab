#!/usr/bin/env python3
"""CDK entry point: ``cd infra && npx cdk synth`` (or ``python app.py`` to write cdk.out/).

Names (DynamoDB table, workgroup) default to ``ppstack.settings``; the archive and table buckets
default to names derived from the account and region. Override with context, e.g.
``-c ppstack:bucket=my-archive``.

Before synthesis this builds the Lambda layers (pinned boto3; pyarrow for the fetch function)
under ``infra/cdk.out.layers/`` with pip for the functions' platform (no Docker); they are
rebuilt only when ``constraints.txt`` changes their pins. ``-c ppstack:layers_dir=DIR`` uses
layers built elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "src"):  # ppstack_infra and the ppstack package
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402
from ppstack_infra import PpstackStack, StackConfig  # noqa: E402
from ppstack_infra.layers import LAYERS, build_layer  # noqa: E402


def main() -> None:
    app = cdk.App()
    layers_dir = app.node.try_get_context("ppstack:layers_dir")
    if not layers_dir:
        layers_dir = str(HERE / "cdk.out.layers")
        for name in LAYERS:
            build_layer(name, Path(layers_dir))
    config = StackConfig.from_context(app.node.try_get_context, layers_dir=layers_dir)
    PpstackStack(app, app.node.try_get_context("ppstack:stack_name") or "Ppstack",
                 config=config,
                 description="ppstack: raw archive, Athena + S3 Tables SCD2, DynamoDB, REST API")
    app.synth()


if __name__ == "__main__":
    main()
