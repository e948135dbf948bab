"""Fixtures of the raw-layer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopback_publisher import Publisher, serving


@pytest.fixture
def publisher() -> Iterator[tuple[Publisher, str]]:
    """A loopback HTTP publisher of the bundled extract as ``ndctext.zip``, and its URL."""
    with serving() as served:
        yield served
