"""Shared fixtures: isolated settings per test, one real dynalite per test worker, data paths."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppstack.backends import Runtime
from ppstack.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_FDA = ROOT.parent / "shared" / "data" / "fda_ndc"
SAMPLE_DIR = ROOT / "src" / "ppstack" / "data" / "sample" / "fda_ndc"


@pytest.fixture(scope="session")
def dynalite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real local DynamoDB server (dynalite) per pytest worker."""
    from ppstack.serving import dynalite

    with socket.socket() as s:  # a port no other server (or concurrent test run) holds
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path_factory.mktemp("dynalite-home")
    settings = load_settings(home=str(home), dynamodb_port=str(port))
    url = dynalite.ensure_running(settings)
    yield url
    dynalite.stop(settings)


@pytest.fixture
def settings(tmp_path: Path, dynalite_endpoint: str) -> Settings:
    """A fresh PPSTACK_HOME and a fresh DynamoDB table name on the shared server."""
    return load_settings(
        backend="local",
        home=str(tmp_path / "home"),
        dynamodb_endpoint=dynalite_endpoint,
        dynamodb_table=f"t-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings for tests that must not touch DynamoDB at all."""
    return load_settings(backend="local", home=str(tmp_path / "home"),
                         dynamodb_endpoint="http://127.0.0.1:9")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def sample_files() -> dict[str, Path]:
    """The bundled real extract (product.txt + package.txt, bytes as FDA published them)."""
    files = {"product": SAMPLE_DIR / "product.txt", "package": SAMPLE_DIR / "package.txt"}
    for p in files.values():
        assert p.is_file(), f"bundled sample missing: {p}"
    return files


@pytest.fixture(scope="session")
def full_fda_files() -> dict[str, Path]:
    """The full real 2019-04-29 files from ../shared; skipped when ../shared is absent."""
    files = {
        "product": SHARED_FDA / "product_2019-04-29.txt",
        "package": SHARED_FDA / "package_2019-04-29.txt",
    }
    if not all(p.is_file() for p in files.values()):
        pytest.skip(f"full FDA files not present under {SHARED_FDA} (../shared is absent)")
    return files


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ppstack-scratch-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)
