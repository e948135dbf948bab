#!/usr/bin/env python3
"""CDK entry point: ``cd infra && npx cdk synth`` (or ``python app.py`` to write cdk.out/).

Names (bucket, table bucket, DynamoDB table, workgroup) default to ``ppstack.settings`` and can
be overridden with context, e.g. ``-c ppstack:bucket=my-archive``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "src"):  # ppstack_infra and the ppstack package
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402
from ppstack_infra import PpstackStack  # noqa: E402


def main() -> None:
    app = cdk.App()
    PpstackStack(app, app.node.try_get_context("ppstack:stack_name") or "Ppstack",
                 description="ppstack: raw archive, Athena + S3 Tables SCD2, DynamoDB, REST API")
    app.synth()


if __name__ == "__main__":
    main()
