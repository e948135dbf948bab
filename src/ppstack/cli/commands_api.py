"""CLI commands of the api area. Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
