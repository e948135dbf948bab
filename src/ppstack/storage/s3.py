"""S3 object store through boto3. Conditional writes map to S3's If-None-Match / If-Match.

ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html

Retention by prefix. The archive bucket has Object Lock enabled but no default retention: a
bucket-wide default would also lock staging output, ledger versions, run locks and
checkpoints, which must stay deletable (and expire by lifecycle rule) instead of piling up
for a year. So the store itself puts a governance-mode retention on each object it writes
under ``raw/`` and ``raw_tabular/`` (the archive), when the bucket has Object Lock enabled.
ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
ref: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ppstack.errors import NotFound
from ppstack.storage.base import ObjectInfo, PreconditionFailed

RETAINED_PREFIXES = ("raw/", "raw_tabular/")


class S3ObjectStore:
    def __init__(self, bucket: str, client: Any | None = None, region: str | None = None,
                 retain_days: int = 0) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region)
        self.bucket = bucket
        self.client = client
        self.retain_days = retain_days
        self._lock_enabled: bool | None = None  # learnt on the first archive write

    def _retention(self, key: str) -> dict[str, Any]:
        """Object Lock arguments for ``key``: governance retention for the archive prefixes."""
        if self.retain_days <= 0 or not key.startswith(RETAINED_PREFIXES):
            return {}
        if self._lock_enabled is None:
            from botocore.exceptions import ClientError

            try:
                conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
                enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                self._lock_enabled = enabled == "Enabled"
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != \
                        "ObjectLockConfigurationNotFoundError":
                    raise
                self._lock_enabled = False
        if not self._lock_enabled:
            return {}
        until = datetime.now(UTC) + timedelta(days=self.retain_days)
        return {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until}

    def put(self, key: str, data: bytes, *, if_none_match: bool = False,
            if_match: str | None = None) -> str:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data,
                                  **self._retention(key)}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = f'"{if_match}"'
        try:
            resp = self.client.put_object(**kwargs)
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = e.response.get("Error", {}).get("Code")
            # 412: the key exists / changed. 409 ConditionalRequestConflict: a concurrent write won.
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise PreconditionFailed(
                    f"{self.uri(key)}: conditional write refused ({code})") from e
            raise
        return str(resp.get("ETag", "")).strip('"')

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise NotFound(f"{self.uri(key)} does not exist") from None

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
        return ObjectInfo(key=key, size=int(r["ContentLength"]), etag=str(r["ETag"]).strip('"'))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
