"""Test hook: a process that dies by SIGKILL at a named point (``PPSTACK_TEST_KILL_AT``).

The kill -9 tests of ``ppstack replay`` (tests/pipeline/test_replay.py) start the command in a
subprocess with ``PPSTACK_TEST_KILL_AT=<point>``; when the replay reaches that point the process
sends itself SIGKILL, so nothing after it runs: no ``finally`` block, no context manager's exit,
no lock release, exactly as ``kill -9`` from an operator. The rerun, in a fresh process without
the variable, must finish with the same end state as an uninterrupted replay. An exception
standing for the kill would unwind the stack and could hide a state a real kill leaves.

In normal use the variable is unset and a point costs one environment lookup. This module is
the only place the hook is defined; the points are named where they are called.
"""

from __future__ import annotations

import os
import signal

ENV = "PPSTACK_TEST_KILL_AT"

# Where a replay can be told to die (the callers, in the replay's order).
POINTS = (
    "during_staging",  # a delivery's staging statements written, its counts not yet recorded
    "after_history",  # the new table holds the history before --from, no delivery applied
    "after_batch",  # the first replayed delivery fully applied to the new table
    "before_promote",  # the new table checked, no rename done
    "between_renames",  # the old table renamed to its dated name, the new one not yet renamed
    "after_promote",  # both renames done, the phase not yet recorded in the ledger
    "during_sync",  # DynamoDB: part of the puts of the first written chunk done
)


def kill_point(name: str) -> None:
    """Die here by SIGKILL when ``PPSTACK_TEST_KILL_AT`` names this point (tests only)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
