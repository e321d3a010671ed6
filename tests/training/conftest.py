"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def tiles(tmp_path_factory) -> Path:
    """Four 64-pixel tiles of a small clean scene (one per test module)."""
    root = tmp_path_factory.mktemp("tiles")
    assert run_cli("synth", "-o", root / "s", "--size", 128, 128, "--seed", 3).exit_code == 0
    out = root / "tiles"
    result = run_cli(
        "-q", "tile", root / "s" / "scene.tif", "-l", root / "s" / "labels_clean.tif",
        "-o", out, "--size", 64, "--overlap", 0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out
