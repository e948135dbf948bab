"""One small error tree for the whole project.

Every error carries the exit code the CLI returns and the HTTP status and code the API returns,
so both translate errors in exactly one place (``cli.main`` and ``api.responses``). Messages
say what was wrong and, where possible, how to fix it.
"""

from __future__ import annotations


class PpstackError(Exception):
    """Base class. ``exit_code`` 1 = failed; 2 = bad usage or refused input."""

    exit_code = 1
    http_status = 500
    code = "INTERNAL"


class BadInput(PpstackError):
    """Input that can never succeed as given: bad file, bad argument, malformed NDC."""

    exit_code = 2
    http_status = 400
    code = "BAD_REQUEST"


class Refused(PpstackError):
    """A valid request that a guard or invariant refuses (stale batch, mass delete, overwrite)."""

    exit_code = 2
    http_status = 409
    code = "CONFLICT"


class NotFound(PpstackError):
    exit_code = 1
    http_status = 404
    code = "NOT_FOUND"


class AlreadyExists(Refused):
    """A write-once object exists with different content."""


class Locked(Refused):
    """Another run of the same entity type holds the lock."""


class EngineError(PpstackError):
    """The SQL engine failed a statement (Athena FAILED state, DuckDB error)."""


class ServiceUnavailable(PpstackError):
    """A backing service (local DynamoDB server, Node.js) is missing or not answering."""

    http_status = 503
    code = "UNAVAILABLE"


class Throttled(ServiceUnavailable):
    """DynamoDB kept throttling past the retry budget. Its own class because the AWS sync
    ends a slice at its checkpoint on it, and the state machine retries the sync on it (Step
    Functions matches a Lambda error by the exception's class name)."""
