"""Lambda layers with pinned dependencies, built without Docker.

Why a layer for boto3: the Lambda Python runtime's bundled boto3 lags the SDK and changes
without notice; ppstack needs a recent one (S3 conditional writes, ``If-None-Match`` and
``If-Match`` on PutObject, and default request checksums, which Object Lock puts require), and
the same version the tests ran with. The fetch function also archives, which writes Parquet
renditions, so it gets a second layer with pyarrow.

Both are built by ``build_layer`` (``pip install --platform manylinux2014_aarch64
--only-binary=:all:``: the wheels for the Lambda's architecture, no compiler, no Docker), from
the versions pinned in ``constraints.txt``. ``infra/app.py`` (what ``cdk deploy`` runs) builds
them before synthesis; a stack synthesized without them (the tests) points the layers at a
placeholder directory, so offline synthesis never downloads anything.
ref: https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
ref: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ppstack_infra.config import REPO_ROOT, StackConfig

CONSTRAINTS = REPO_ROOT / "constraints.txt"
PLACEHOLDER = REPO_ROOT / "infra" / "layer-placeholder"
PLATFORM = "manylinux2014_aarch64"  # the functions run on ARM_64 (Graviton)
PYTHON_VERSION = "3.12"  # serving.PYTHON_RUNTIME

LAYERS: dict[str, tuple[str, ...]] = {
    "boto3": ("boto3", "botocore", "s3transfer"),
    "archive": ("pyarrow",),
}


def pins(names: tuple[str, ...], constraints: Path = CONSTRAINTS) -> list[str]:
    """``name==version`` of each name, as ``constraints.txt`` pins it."""
    pinned = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pinned[name.lower()] = f"{name}=={version}"
    missing = [n for n in names if n.lower() not in pinned]
    if missing:
        raise ValueError(f"{constraints} does not pin {', '.join(missing)}")
    return [pinned[n.lower()] for n in names]


def layer_id(layer: str) -> str:
    """Directory name of a built layer: changes whenever its pins change."""
    digest = hashlib.sha256(" ".join(pins(LAYERS[layer])).encode()).hexdigest()[:12]
    return f"{layer}-{digest}"


def build_layer(layer: str, root: Path) -> Path:
    """Install the layer's pinned packages under ``root/<layer_id>/python`` (once)."""
    target = root / layer_id(layer)
    stamp = target / "ppstack-layer.txt"
    if stamp.is_file():
        return target
    requirements = pins(LAYERS[layer])
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
         "--target", str(target / "python"), "--platform", PLATFORM,
         "--python-version", PYTHON_VERSION, "--implementation", "cp",
         "--only-binary=:all:", "-c", str(CONSTRAINTS), *requirements],
        check=True,
    )
    stamp.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return target


def dependency_layers(scope: Construct, config: StackConfig) -> dict[str, lambda_.LayerVersion]:
    """One LayerVersion per entry of ``LAYERS``; its description names the pins it holds."""
    from ppstack_infra.serving import PYTHON_RUNTIME

    out = {}
    for name, packages in LAYERS.items():
        built = Path(config.layers_dir) / layer_id(name) if config.layers_dir else None
        path = built if built is not None and (built / "ppstack-layer.txt").is_file() \
            else PLACEHOLDER
        out[name] = lambda_.LayerVersion(
            scope, f"{name.capitalize()}Layer",
            code=lambda_.Code.from_asset(str(path)),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="ppstack pinned: " + " ".join(pins(packages)),
        )
    return out
