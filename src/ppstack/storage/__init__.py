"""Object store port (S3 semantics): a local directory tree, or S3 through boto3."""

from ppstack.storage.base import ObjectInfo, ObjectStore, PreconditionFailed

__all__ = ["ObjectInfo", "ObjectStore", "PreconditionFailed"]
