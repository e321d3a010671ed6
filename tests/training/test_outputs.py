"""What a training run does to the outputs already there, when it fails or is stopped.

The trainer itself is replaced by a stand-in that writes into the run's
directory and then fails, so these tests take a second each.
"""

from __future__ import annotations

import errno
import signal
from pathlib import Path

import pytest

from geonoise.errors import Interrupted
from geonoise.training import run as training_run
from tests.conftest import run_cli


@pytest.fixture
def earlier_run(tmp_path: Path) -> dict[str, bytes]:
    """The outputs of an earlier run of ``t.ckpt``, as their bytes."""
    files = {
        "t.ckpt": b"earlier model",
        "t.curves.png": b"earlier curves",
        "t_run/metrics.csv": b"epoch,val_loss\n0,1.0\n",
        "t_run/checkpoints/last.ckpt": b"earlier checkpoint",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    return files


def contents(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def failing_trainer(error: BaseException):
    def fake(trainer, task, loaders, resume_from):
        root = Path(trainer.default_root_dir)
        (root / "checkpoints").mkdir(parents=True, exist_ok=True)
        (root / "checkpoints" / "last.ckpt").write_bytes(b"half a run")
        raise error

    return fake


def train(tiles: Path, out: Path, *flags: object):
    return run_cli("-q", "train-teacher", tiles, "-o", out, "--steps", 2, *flags)


@pytest.mark.parametrize(
    "error, code, said",
    [
        (OSError(errno.ENOSPC, "No space left on device"), 1, "No space left"),
        (Interrupted(signal.SIGTERM), 143, "t_run is as it was"),
    ],
)
def test_overwrite_keeps_the_earlier_run_until_the_new_one_has_finished(
    tiles, tmp_path, earlier_run, monkeypatch, error, code, said
):
    monkeypatch.setattr(training_run, "_run_trainer", failing_trainer(error))
    result = train(tiles, tmp_path / "t.ckpt", "--overwrite")
    assert result.exit_code == code, result.output
    assert said in result.stderr
    files = contents(tmp_path)
    assert {k: files[k] for k in earlier_run} == earlier_run
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_new_run_that_fails_leaves_no_run_directory(tiles, tmp_path, monkeypatch):
    monkeypatch.setattr(training_run, "_run_trainer", failing_trainer(RuntimeError("boom")))
    result = train(tiles, tmp_path / "t.ckpt")
    assert result.exit_code == 1 and "boom" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_stopped_after_a_checkpoint_is_kept_for_resume(tiles, tmp_path, monkeypatch):
    monkeypatch.setattr(training_run, "_run_trainer", failing_trainer(Interrupted(signal.SIGINT)))
    result = train(tiles, tmp_path / "t.ckpt")
    assert result.exit_code == 130
    assert "--resume continues it" in result.stderr
    assert (tmp_path / "t_run" / "checkpoints" / "last.ckpt").exists()


def test_existing_curves_are_refused_without_overwrite(tiles, tmp_path, monkeypatch):
    monkeypatch.setattr(training_run, "_run_trainer", failing_trainer(AssertionError("ran")))
    (tmp_path / "t.curves.png").write_bytes(b"someone's plot")
    result = train(tiles, tmp_path / "t.ckpt")
    assert result.exit_code == 1 and "t.curves.png exists" in result.stderr
    assert contents(tmp_path) == {"t.curves.png": b"someone's plot"}


@pytest.mark.parametrize(
    "flags, option",
    [
        (["--strategy", "foo"], "--strategy"),
        (["--accelerator", "cpu", "--devices", "-1"], "--devices"),
        (["--accelerator", "cpu", "--devices", "0,1"], "--devices"),
    ],
)
def test_lightning_refusals_are_usage_errors(tiles, tmp_path, flags, option):
    result = train(tiles, tmp_path / "t.ckpt", *flags)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: Invalid value for {option}:")
    assert "unexpected" not in result.stderr
    assert list(tmp_path.iterdir()) == []
