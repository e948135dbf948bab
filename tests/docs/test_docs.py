"""Docs are tested: every command has help with an example, every README
command line names real commands and options, every setting and entity is documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ppstack.cli.main import cli
from ppstack.entities import ENTITIES
from ppstack.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group,
              prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


def _readme_command_lines() -> list[str]:
    lines = []
    for block in re.findall(r"```\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("ppstack "):
                lines.append(line)
    return lines


@pytest.mark.parametrize(("path", "command"), _commands(cli),
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_docs_every_command_has_help_with_example(path: tuple[str, ...],
                                                  command: click.Command) -> None:
    assert command.help, f"ppstack {' '.join(path)} has no help text"
    if not isinstance(command, click.Group):
        assert "Example" in command.help, f"ppstack {' '.join(path)} help has no example"
        assert f"ppstack {path[0]}" in README, f"ppstack {path[0]} is not in the README"


@pytest.mark.parametrize("line", _readme_command_lines())
def test_docs_readme_command_lines_parse(line: str, tmp_path: Path) -> None:
    """Each README command names a real command with real options (``--help`` stops before
    anything runs, but only after click has parsed every option)."""
    args = shlex.split(line)[1:]
    result = CliRunner().invoke(cli, [*args, "--help"], env={"PPSTACK_HOME": str(tmp_path)})
    assert result.exit_code == 0, f"{line!r}: {result.output}"
    assert "Usage:" in result.output


def test_docs_readme_has_the_two_make_commands() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_docs_every_setting_is_in_the_readme(setting) -> None:  # noqa: ANN001
    assert setting.env in README, f"{setting.env} is not documented in the README"
    assert setting.help


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_docs_every_entity_is_documented(name: str) -> None:
    spec = ENTITIES[name]
    assert spec.doc and all(c.doc for c in spec.fields), f"{name} has undocumented fields"
    assert name in README
