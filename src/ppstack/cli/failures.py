"""What the user reads when a command fails: one or two lines, never a traceback.

Line 1 says what failed, in the words of the service or file involved (the DynamoDB server, the
object store, the disk, the SQL engine). Line 2 gives the exact command that resumes: every
ppstack command is safe to repeat (raw is write-once, a failed batch is resumed from the ledger,
a sync converges), so it is the command that failed, as it was typed. ``--debug`` adds the
traceback (docs/cli.md#exit-codes-and-errors).
"""

from __future__ import annotations

import errno
import shlex
import sqlite3
from collections.abc import Sequence

from ppstack.errors import PpstackError

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (128 + 2)


def resume_command(argv: Sequence[str]) -> str:
    """The command line that resumes: the one that failed, quoted for a POSIX shell."""
    return "ppstack " + " ".join(shlex.quote(a) for a in argv)


def _os_error(e: OSError) -> str:
    where = f" ({e.filename})" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"the disk is full: no space left on device{where}; free some space"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write{where}: {e.strerror}; the local object store, warehouse or catalog "
                "must be writable")
    if e.errno == errno.ECONNREFUSED:
        return f"a local server refused the connection{where}: is it running? (ppstack services)"
    return f"{e.strerror or e}{where}"


def _botocore(e: Exception) -> str | None:
    try:
        from botocore import exceptions as bce
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(e, (bce.EndpointConnectionError, bce.ConnectionClosedError,
                      bce.ReadTimeoutError, bce.ConnectTimeoutError)):
        url = getattr(e, "kwargs", {}).get("endpoint_url", "")
        return (f"the DynamoDB server{' at ' + url if url else ''} stopped answering "
                f"({type(e).__name__}); a local one is started again by the next command")
    if isinstance(e, bce.ClientError):
        err = e.response.get("Error", {})
        op = getattr(e, "operation_name", "a request")
        return f"AWS refused {op}: {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
    if isinstance(e, bce.NoCredentialsError):
        return "no AWS credentials: configure them (aws configure) or use --backend local"
    if isinstance(e, bce.BotoCoreError):
        return f"AWS client error: {e}"
    return None


def _chain(e: BaseException) -> list[BaseException]:
    """``e`` and the exceptions it was raised from or while handling, innermost last."""
    out = [e]
    while (nxt := out[-1].__cause__ or out[-1].__context__) is not None and nxt not in out:
        out.append(nxt)
    return out


# Failures of the machine rather than of the data: said as such even when a layer wrapped them.
_MACHINE = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM)


def describe(e: BaseException) -> str:
    """One line saying what failed."""
    text = _botocore(e) if isinstance(e, Exception) else None
    if text:
        return text
    for link in _chain(e):
        if isinstance(link, OSError) and link.errno in _MACHINE:
            text = str(e)  # the engine adds the statement it was running: keep that
            where = text[text.rfind(" [statement:"):] if "[statement:" in text else ""
            return _os_error(link) + where
    if isinstance(e, PpstackError):
        return str(e)
    if isinstance(e, OSError):
        return _os_error(e)
    if isinstance(e, sqlite3.Error):
        return f"the local Iceberg catalog cannot be used: {e}"
    if isinstance(e, MemoryError):
        return "out of memory"
    return f"{type(e).__name__}: {e}"


def explain(e: BaseException, argv: Sequence[str]) -> tuple[str, int]:
    """The message (one or two lines) and exit code for an exception a command raised."""
    if isinstance(e, KeyboardInterrupt):
        return (f"interrupted; nothing is half-written. Resume with: {resume_command(argv)}",
                INTERRUPTED)
    line = describe(e)
    code = e.exit_code if isinstance(e, PpstackError) else 1
    if code == 1 and "ppstack " not in line:  # refusals (2) are fixed by changing the input
        line += f"\nresume with: {resume_command(argv)}"
    return line, code
