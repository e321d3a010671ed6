"""What training says: nothing but errors with -q, one bar over the whole run by default,
Lightning's notes with -v (no adverts), and where it wrote in paths of one kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

#: These tests train (a few steps each); the ones on the streams in a fresh process.
pytestmark = pytest.mark.slow

FAST = ["--steps", 3, "--batch-size", 2, "--no-augment"]

#: The geonoise command in a process that sees 16 CPUs, where Lightning would advise more
#: DataLoader workers (a warning that geonoise's cached tiles make moot).
SIXTEEN_CPUS = (
    "import os, sys; os.sched_getaffinity = lambda pid: set(range(16)); "
    "os.cpu_count = lambda: 16; sys.argv[0] = 'geonoise'; "
    "from geonoise.cli.main import cli; cli()"
)


def geonoise(*args: object) -> subprocess.CompletedProcess:
    """Run geonoise in a fresh process (warnings and log handlers as a user's shell has them)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-c", SIXTEEN_CPUS, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_quiet_training_and_resume_print_the_model_path_and_nothing_else(tiles, tmp_path):
    out = tmp_path / "t.ckpt"
    done = geonoise("-q", "train-teacher", tiles, "-o", out, *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert done.stderr == ""
    resumed = geonoise("-q", "train-teacher", tiles, "-o", out, *FAST, "--steps", 5, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (resumed.stdout, resumed.stderr) == (f"{out}\n", "")


def test_training_draws_one_bar_over_all_its_steps(tiles, tmp_path):
    out = tmp_path / "t.ckpt"
    done = geonoise("train-teacher", tiles, "-o", out, *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    bar = [line for line in done.stderr.replace("\r", "\n").splitlines() if "step/s" in line]
    assert bar and all(line.startswith("training t.ckpt:") for line in bar)
    assert all("/3 [" in line for line in bar)  # the run's steps, not an epoch's batches
    assert "3/3" in done.stderr and "train_loss=" in done.stderr and "val_miou=" in done.stderr
    for noise in ("Epoch", "Validation", "Sanity", "GPU available", "Tip", "site-packages"):
        assert noise not in done.stderr  # Lightning's bars, notes and warnings
    assert f"{out}: 3 steps; " in done.stderr and "best validation: loss " in done.stderr
    assert "wrote:" in done.stderr and "t.curves.png  learning curves" in done.stderr


def test_verbose_training_shows_lightning_notes_but_no_advert(tiles, tmp_path):
    done = geonoise("-v", "train-teacher", tiles, "-o", tmp_path / "t.ckpt", *FAST)
    assert done.returncode == 0, done.stderr
    assert "GPU available" in done.stderr and "`Trainer.fit` stopped" in done.stderr
    assert "litlogger" not in done.stderr
    stopped = next(line for line in done.stderr.splitlines() if "`Trainer.fit` stopped" in line)
    assert stopped.startswith("`Trainer.fit`")  # on a line of its own, not after the bar


def test_bar_counts_optimizer_steps_across_validations_and_resumes(tmp_path):
    """Lightning's own bar restarts at every epoch; this one spans the run and its resume."""
    import lightning as L
    from lightning.pytorch.demos.boring_classes import BoringModel

    from geonoise.training.progress import RunProgressBar

    class Watch(L.Callback):
        def __init__(self, bar: RunProgressBar) -> None:
            self.bar, self.seen = bar, []

        def on_train_batch_end(self, trainer, *_):
            b = self.bar.train_progress_bar
            self.seen.append((id(b), b.n, b.total, b.initial))

    def fit(steps: int, resume: str | None = None) -> list[tuple[int, int, int, int]]:
        bar = RunProgressBar("training m.ckpt")
        watch = Watch(bar)
        trainer = L.Trainer(
            default_root_dir=tmp_path,
            max_steps=steps,
            limit_train_batches=2,  # a Lightning epoch of 2 steps, then validation
            limit_val_batches=1,
            callbacks=[bar, watch],
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        trainer.fit(BoringModel(), ckpt_path=resume)
        trainer.save_checkpoint(tmp_path / "last.ckpt")
        return watch.seen

    first = fit(4)
    assert len({bar for bar, *_ in first}) == 1  # one bar, two epochs
    assert [n for _, n, _, _ in first] == [1, 2, 3, 4]
    assert {(total, initial) for _, _, total, initial in first} == {(4, 0)}
    resumed = fit(6, resume=str(tmp_path / "last.ckpt"))
    assert [(n, total, initial) for _, n, total, initial in resumed] == [(5, 6, 4), (6, 6, 4)]


@pytest.mark.parametrize("absolute", [False, True])
def test_json_paths_are_all_as_the_output_was_given(tiles, tmp_path, monkeypatch, absolute):
    monkeypatch.chdir(tmp_path)
    out = (tmp_path / "models" / "t.ckpt") if absolute else Path("models") / "t.ckpt"
    result = run_cli("-q", "train-teacher", tiles, "-o", out, "--folds", 2, "--json", *FAST)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    paths = [summary["list"]]
    for fold in summary["folds"]:
        paths += [fold[k] for k in ("model_file", "curves", "run_dir", "best_checkpoint")]
    assert all(Path(p).is_absolute() == absolute for p in paths), paths
    assert all(p.startswith(str(out.parent)) and Path(p).exists() for p in paths), paths


def test_curves_are_titled_by_model_file_and_role(tiles, tmp_path, monkeypatch):
    from geonoise.io import plots

    titles = []

    def plot_curves(history, path, title=""):
        titles.append(title)
        Path(path).write_bytes(b"a plot")

    monkeypatch.setattr(plots, "plot_curves", plot_curves)
    result = run_cli("-q", "train-teacher", tiles, "-o", tmp_path / "teacher.ckpt", *FAST)
    assert result.exit_code == 0, result.output
    assert titles == ["teacher.ckpt: teacher learning curves"]
