"""vectorize_file's conventions on paths (the writing itself is tested through the CLI)."""

from __future__ import annotations

from pathlib import Path

from geonoise.vectorize.files import classes_path_for


def test_classes_path_is_the_companion_name():
    assert classes_path_for("out/noise.tif") == str(Path("out/noise.classes.tif"))
