"""CLI commands of the pipeline area. Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
