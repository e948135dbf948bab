"""CLI commands of the raw area. Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
