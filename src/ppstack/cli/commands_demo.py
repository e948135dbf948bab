"""CLI commands of the demo area. Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
