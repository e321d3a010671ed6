"""`geonoise vectorize --help` as a user reads it: examples that run, formats explained.

(The command's outputs, summary and errors are tested in tests/cli/test_vectorize.py.)
"""

from __future__ import annotations

import shlex

import pytest
from click.testing import CliRunner

from geonoise.cli.main import cli
from tests.vectorize.conftest import known_scene, write_classes, write_noise


def help_text() -> str:
    result = CliRunner().invoke(cli, ["vectorize", "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def examples() -> list[list[str]]:
    """The command lines of the help's examples, without the leading ``geonoise``."""
    lines = [line.strip() for line in help_text().splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("geonoise vectorize ")]


def test_help_has_examples():
    assert len(examples()) >= 2


@pytest.mark.parametrize("args", examples(), ids=lambda args: " ".join(args[3:]) or "plain")
def test_every_help_example_runs(tmp_path, monkeypatch, args):
    score, label, predicted = known_scene()
    write_noise(tmp_path / "noise.tif", score)
    write_classes(tmp_path / "noise.classes.tif", label, predicted)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["-q", *args])
    assert result.exit_code == 0, result.output
    assert (tmp_path / args[args.index("-o") + 1]).is_file()


def test_output_help_says_what_each_format_needs_and_does():
    text = " ".join(help_text().split())
    assert "Parquet driver" in text and "Debian" in text  # GeoParquet needs GDAL's driver
    assert "WGS84" in text and "RFC 7946" in text  # GeoJSON is reprojected
    assert "before --simplify" in text  # what --min-area compares
