"""The command group: help, version, laziness, error handling."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from geonoise import __version__
from geonoise.cli.main import cli

COMMANDS = (
    "synth",
    "tile",
    "train-teacher",
    "train-student",
    "export",
    "detect",
    "vectorize",
    "evaluate",
    "fix",
)


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    assert sorted(cli.commands) == sorted(COMMANDS)


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_imports_no_heavy_library():
    """`geonoise --help` stays instant: torch, rasterio and geopandas load only inside commands."""
    code = (
        "import sys; from click.testing import CliRunner; from geonoise.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['tile', '--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'rasterio', 'geopandas', 'kornia', 'lightning', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and f"geonoise {name} " in result.output
    assert "Example" in result.output  # an "Example:" or "Examples:" section


def test_unexpected_errors_are_one_line_and_verbose_shows_the_traceback(monkeypatch, tmp_path):
    import geonoise.data.tiling

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(geonoise.data.tiling, "plan_tiling", boom)
    scene = tmp_path / "s.tif"
    scene.write_bytes(b"x")
    quiet = CliRunner().invoke(cli, ["tile", str(scene), "-o", str(tmp_path / "o")])
    assert quiet.exit_code == 1
    assert quiet.stderr.strip().splitlines() == [
        "Error: unexpected RuntimeError: kaboom (rerun with -v for the traceback)"
    ]
    loud = CliRunner().invoke(cli, ["-v", "tile", str(scene), "-o", str(tmp_path / "o")])
    assert loud.exit_code == 1 and "Traceback" in loud.stderr
    after = CliRunner().invoke(cli, ["tile", str(scene), "-o", str(tmp_path / "o"), "-v"])
    assert after.exit_code == 1 and "Traceback" in after.stderr


def test_a_signal_that_becomes_another_error_still_exits_as_an_interruption(monkeypatch, tmp_path):
    """C code that catches the signal's exception mid-import raises an ImportError instead."""
    import os
    import signal

    import geonoise.data.tiling
    from geonoise.errors import Interrupted

    def interrupted_mid_import(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 1)  # the handler runs here, before the call returns
        except Interrupted as exc:
            raise ImportError('PyCapsule_Import could not import module "pandas"') from exc

    monkeypatch.setattr(geonoise.data.tiling, "plan_tiling", interrupted_mid_import)
    scene = tmp_path / "s.tif"
    scene.write_bytes(b"x")
    result = CliRunner().invoke(cli, ["tile", str(scene), "-o", str(tmp_path / "o")])
    assert result.exit_code == 128 + signal.SIGTERM, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: interrupted")
    assert "ImportError" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_failed_command_stops_its_helper_threads_before_it_exits(monkeypatch, tmp_path):
    """A generator left suspended by the error (detect's model thread) is closed, not kept."""
    import itertools
    import threading

    import geonoise.data.tiling
    from geonoise.parallel import read_ahead

    def fails_while_reading_ahead(*args, **kwargs):
        batches = read_ahead(itertools.count(), depth=1)
        next(batches)
        raise RuntimeError("kaboom")

    monkeypatch.setattr(geonoise.data.tiling, "plan_tiling", fails_while_reading_ahead)
    scene = tmp_path / "s.tif"
    scene.write_bytes(b"x")
    result = CliRunner().invoke(cli, ["tile", str(scene), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "kaboom" in result.stderr
    helpers = [t for t in threading.enumerate() if t.name == "geonoise-read-ahead"]
    assert helpers == []


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_verbosity_after_its_name(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert "-q, --quiet" in result.output and "-v, --verbose" in result.output
