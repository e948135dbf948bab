"""The one boto3 DynamoDB client factory (boto3 + standard library: the API bundle imports it).

The pipeline (``backends.make_dynamodb``) and the API handlers (``api.config``) both build their
client here, so timeouts, retries and connection pooling are decided in one place.
"""

from __future__ import annotations

from typing import Any

# Many requests in flight: the sync and rebuild run up to 32 BatchWriteItem calls at once.
POOL = 32


def make_client(region: str, endpoint: str | None = None, *, local: bool = False,
                fail_fast: bool = False) -> Any:
    """A low-level DynamoDB client.

    ``endpoint`` None means the AWS endpoint of ``region``. ``local``: a local DynamoDB server
    (dynalite) checks that a request is signed, not by whom, so placeholder credentials are
    used and no AWS account is needed. ``fail_fast``: for API reads, short timeouts and three
    attempts (API Gateway gives up after 29 s, and a stuck read should fail well before);
    otherwise botocore's standard retry mode with five attempts, for long-running writers.
    """
    import boto3
    from botocore.config import Config

    if fail_fast:
        config = Config(connect_timeout=2, read_timeout=5,
                        retries={"mode": "standard", "max_attempts": 3},
                        max_pool_connections=POOL)
    else:
        config = Config(retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=POOL)
    kwargs: dict[str, Any] = {"region_name": region, "config": config}
    if endpoint is not None:
        kwargs["endpoint_url"] = endpoint
        if local:
            kwargs["aws_access_key_id"] = "local"
            kwargs["aws_secret_access_key"] = "local"
    return boto3.client("dynamodb", **kwargs)
