"""The explorer page: one HTML file (inline CSS and vanilla JavaScript) shipped as package data.

Read once per process and kept: a Lambda serves it from memory after the first request. The
page calls the API with URLs relative to where it is served, so it works under an API Gateway
stage path (``/prod/``) as well as at the root of ``ppstack serve``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def page() -> str:
    return resources.files("ppstack.api").joinpath("static/explorer.html").read_text("utf-8")
