"""SQL templates (Athena dialect, one statement per file) and their rendering.

Templates use ``{{name}}`` placeholders only; every placeholder must be given and every given
value is used verbatim. Values that come from users (dates, batch ids) are validated before they
reach here (``layout.check_date`` / ``check_batch_id``) and are quoted with ``literal``.
"""

from __future__ import annotations

import re
from importlib import resources

from ppstack.errors import BadInput

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def template_names() -> list[str]:
    files = resources.files("ppstack.sql").joinpath("templates")
    return sorted(p.name[:-4] for p in files.iterdir() if p.name.endswith(".sql"))


def load(name: str) -> str:
    path = resources.files("ppstack.sql").joinpath("templates", f"{name}.sql")
    if not path.is_file():
        raise BadInput(f"no SQL template {name!r}; known: {', '.join(template_names())}")
    return path.read_text(encoding="utf-8")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render_text(text: str, params: dict[str, str]) -> str:
    missing = placeholders(text) - set(params)
    if missing:
        raise KeyError(f"template needs {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), text)


def render(name: str, params: dict[str, str]) -> str:
    return render_text(load(name), params)


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
