"""The DynamoDB serving table: one definition used by ppstack locally and by the CDK stack.

PK/SK strings, on-demand, no LSI or GSI (docs/data-rules.md#serving-dynamodb). PITR and deletion
protection are set by the infrastructure (``infra/``); dynalite ignores them.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

PARTITION_KEY = "PK"
SORT_KEY = "SK"

KEY_SCHEMA = [
    {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
    {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
    {"AttributeName": SORT_KEY, "AttributeType": "S"},
]


def ensure_table(client: Any, name: str, timeout: float = 30.0) -> bool:
    """Create the table when missing and wait until it is ACTIVE; True when it was created."""
    try:
        client.describe_table(TableName=name)
        created = False
    except client.exceptions.ResourceNotFoundException:
        # ResourceInUse: created concurrently by another command; fine.
        with contextlib.suppress(client.exceptions.ResourceInUseException):
            client.create_table(
                TableName=name,
                KeySchema=KEY_SCHEMA,
                AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
                BillingMode="PAY_PER_REQUEST",
            )
        created = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.describe_table(TableName=name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return created
        time.sleep(0.05)
    raise TimeoutError(f"DynamoDB table {name} is not ACTIVE after {timeout:.0f} s")


def delete_table(client: Any, name: str) -> None:
    """Drop the table and wait until it is gone (the demo resetting its own table; tests)."""
    try:
        client.delete_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.describe_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            return
        time.sleep(0.05)
