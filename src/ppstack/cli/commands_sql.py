"""CLI commands of the sql area (query, sql render, stage). Register click commands in COMMANDS."""

from __future__ import annotations

COMMANDS: tuple = ()
