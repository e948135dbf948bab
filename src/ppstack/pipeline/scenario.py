"""Moved to ``ppstack.scenario``; this name stays until the modules importing it have moved."""

from ppstack.scenario import *  # noqa: F403
from ppstack.scenario import __all__  # noqa: F401
