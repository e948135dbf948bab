"""CLI commands of the serving area. Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
