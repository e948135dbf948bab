"""SQL templates (Athena dialect, one statement per file) and their rendering.

Templates use ``{{name}}`` placeholders only; every placeholder must be given and every given
value is used verbatim. Values that come from users (dates, batch ids) are validated before they
reach here (``layout.check_date`` / ``check_batch_id``) and are quoted with ``literal``.

``{{> fragment}}`` inlines ``templates/fragments/<fragment>.sql`` (which may include further
fragments) before placeholders are substituted; ``{{> fragment column}}`` inlines an expression
fragment with ``column`` in place of its ``{{@}}`` (a rule written once, applied per column).
Either way a fragment sees the same parameters as the statement that includes it. Athena runs one
statement per query and has no macros, so the SQL a template renders to is always the whole
statement, fragments inlined (``ppstack sql render`` prints exactly that). A fragment is text,
not a statement: it is never listed as a template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

from ppstack.errors import BadInput

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_INCLUDE = re.compile(r"\{\{>\s*([a-z_][a-z0-9_]*)(?:\s+([a-z_][a-z0-9_.]*))?\s*\}\}")
ARGUMENT = "{{@}}"  # in a fragment included with an argument: where the argument goes
FRAGMENTS = "fragments"


def _sql_files(*parts: str) -> list[str]:
    folder = resources.files("ppstack.sql").joinpath("templates", *parts)
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".sql") and p.is_file())


def template_names() -> list[str]:
    """The statements (one per file in ``templates/``); fragments are not statements."""
    return _sql_files()


def fragment_names() -> list[str]:
    return _sql_files(FRAGMENTS)


def load_fragment(name: str) -> str | None:
    """The raw text of ``templates/fragments/<name>.sql`` (includes not expanded), None if
    absent."""
    path = resources.files("ppstack.sql").joinpath("templates", FRAGMENTS, f"{name}.sql")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def expand_includes(text: str, fetch: Callable[[str], str | None] = load_fragment,
                    _stack: tuple[str, ...] = ()) -> str:
    """``text`` with every ``{{> name}}`` replaced by that fragment, recursively.

    A fragment's trailing whitespace is dropped (so ``{{> ctes}},`` reads naturally) and, when only
    whitespace precedes the include on its line, each further line is indented by that whitespace.
    Raises BadInput for a fragment that does not exist or that includes itself, directly or
    through others.
    """

    def inline(m: re.Match[str]) -> str:
        name, argument = m.group(1), m.group(2)
        if name in _stack:
            raise BadInput(f"SQL fragment include cycle: {' -> '.join((*_stack, name))}")
        body = fetch(name)
        if body is None:
            where = f" (included by fragment {_stack[-1]!r})" if _stack else ""
            raise BadInput(f"no SQL fragment {name!r}{where}: expected "
                           f"templates/{FRAGMENTS}/{name}.sql")
        body = expand_includes(body, fetch, (*_stack, name)).rstrip()
        if argument is not None:
            # An expression fragment (``{{> clean_text labelername}}``): its leading comment
            # documents it once, and each use inlines only the expression, argument in place.
            body = re.sub(r"\A(?:[ \t]*--[^\n]*\n)+", "", body).replace(ARGUMENT, argument)
        lead = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
        if lead and not lead.strip():
            body = re.sub(r"\n(?=[^\n])", "\n" + lead, body)
        return body

    return _INCLUDE.sub(inline, text)


def load(name: str) -> str:
    """The text of template ``name`` with its fragments inlined (placeholders left as they are)."""
    path = resources.files("ppstack.sql").joinpath("templates", f"{name}.sql")
    if not path.is_file():
        raise BadInput(f"no SQL template {name!r}; known: {', '.join(template_names())}")
    try:
        return expand_includes(path.read_text(encoding="utf-8"))
    except BadInput as e:
        raise BadInput(f"SQL template {name!r}: {e}") from None


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render_text(text: str, params: dict[str, str]) -> str:
    text = expand_includes(text)
    missing = placeholders(text) - set(params)
    if missing:
        raise KeyError(f"template needs {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), text)


def render(name: str, params: dict[str, str]) -> str:
    return render_text(load(name), params)


def literal(value: str) -> str:
    """A SQL string literal: quotes doubled, as Athena (Trino) and DuckDB both read them.

    The one quoting function of the project for statements Trino parses (DML, CTAS); values from
    users are validated before they reach it (``layout.check_date`` / ``check_batch_id``). DDL,
    which Athena parses with Hive's grammar, uses ``hive_literal``.
    """
    return "'" + value.replace("'", "''") + "'"


def hive_literal(value: str) -> str:
    """A string literal for DDL, which Athena parses with Hive's grammar: quotes and backslashes
    inside are escaped with a backslash. A doubled quote is no escape there: Hive reads ``'a''b'``
    as two adjacent literals and silently drops the quote.
    ref: https://cwiki.apache.org/confluence/display/Hive/LanguageManual+Types#LanguageManualTypes-StringsstringStrings
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
