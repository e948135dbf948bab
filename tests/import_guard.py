"""A script prelude that refuses imports of named packages: a Lambda bundle's promise of what it
does not load is checked by running the handler's code in a fresh interpreter behind it."""

from __future__ import annotations

PRELUDE = r"""
import sys

BLOCKED = {blocked!r}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked in {where}: {{name}}")
        return None

sys.meta_path.insert(0, Block())
"""


def guarded_script(blocked: set[str], where: str, body: str) -> str:
    """``body`` run after a meta-path hook that raises ImportError for any package in
    ``blocked`` (``BLOCKED`` stays defined for the body); ``where`` names the bundle."""
    return PRELUDE.format(blocked=sorted(blocked), where=where) + body
