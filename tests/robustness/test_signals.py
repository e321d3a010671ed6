"""SIGTERM and SIGINT in the middle of every long-running command.

Batch schedulers stop jobs with SIGTERM; users press Ctrl-C. Either way the
command must stop promptly with one ``Error:`` line and exit 128 + the signal's
number, leave no temporary files, no worker process alive, and no existing
output changed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.conftest import make_model_file, run_cli, write_scene

pytestmark = pytest.mark.slow

GEONOISE = str(Path(sys.executable).with_name("geonoise"))
#: How long a command may take to stop after the signal; generous for loaded CI machines
#: (this VM: well under a second, see the closing note of issue #11).
STOP_WITHIN_S = 15


def interrupt(
    args: list[object], ready: Callable[[], bool], signum: int = signal.SIGTERM
) -> tuple[int, str, float, list[psutil.Process]]:
    """Start ``geonoise args``, wait until ``ready()``, send ``signum``.

    Returns the exit code, stderr, seconds from the signal to the exit, and the
    process's descendants as they were when the signal was sent.
    """
    process = subprocess.Popen(
        [GEONOISE, *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a Ctrl-C in the terminal running pytest stays ours
    )
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert process.poll() is None, f"finished before the signal: {process.stderr.read()}"
            assert time.monotonic() < deadline, "never got ready"
            time.sleep(0.05)
        children = psutil.Process(process.pid).children(recursive=True)
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=STOP_WITHIN_S)
        return process.returncode, stderr, time.monotonic() - sent, children
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def assert_stopped_cleanly(
    code: int, stderr: str, children: list[psutil.Process], signum: int
) -> None:
    assert code == 128 + signum, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "interrupted by SIG" in lines[0], stderr[-2000:]
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 5
    while any(child.is_running() and child.status() != "zombie" for child in children):
        assert time.monotonic() < deadline, f"workers still running: {children}"
        time.sleep(0.05)


def listing(folder: Path) -> dict[str, tuple[int, float]]:
    """Every path under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
        for p in sorted(folder.rglob("*"))
    }


def hidden(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def big_scene(tmp_path_factory) -> dict[str, Path]:
    """A 2048² four-band scene with labels, and a tiny model for it."""
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    scene = write_scene(root / "scene.tif", 2048, 2048, count=4, seed=1)
    labels = rng.integers(0, 3, (1, 2048, 2048)).astype("uint8")
    return {
        "scene": scene,
        "labels": write_scene(root / "labels.tif", 2048, 2048, data=labels),
        "model": make_model_file(root / "model.ckpt"),
    }


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_tile_stops_cleanly_and_keeps_an_existing_output(big_scene, tmp_path, signum):
    out = tmp_path / "tiles"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier output")
    before = listing(tmp_path)

    def started() -> bool:
        return any(len(list(p.rglob("*.tif"))) > 20 for p in hidden(tmp_path))

    args = ["tile", big_scene["scene"], "-l", big_scene["labels"], "-o", out, "--size", 32]
    code, stderr, seconds, children = interrupt(
        [*args, "--overlap", 0, "--overwrite", "--jobs", 2], started, signum
    )
    assert_stopped_cleanly(code, stderr, children, signum)
    assert children, "tile ran no worker processes"
    assert listing(tmp_path) == before  # no partial directory, the old output as it was
    assert seconds < STOP_WITHIN_S


def test_detect_stops_cleanly(big_scene, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def started() -> bool:
        return bool(hidden(out))

    code, stderr, _, children = interrupt(
        [
            "detect",
            big_scene["scene"],
            "-l",
            big_scene["labels"],
            "-m",
            big_scene["model"],
            "-o",
            out / "noise.tif",
            "--window",
            64,
        ],
        started,
    )
    assert_stopped_cleanly(code, stderr, children, signal.SIGTERM)
    assert list(out.iterdir()) == []


def test_vectorize_stops_cleanly_and_its_workers_with_it(tmp_path):
    rng = np.random.default_rng(2)
    score = rng.random((1, 4096, 4096), dtype=np.float32)
    noise = write_scene(tmp_path / "noise.tif", 4096, 4096, data=score, nodata=-1.0)
    out = tmp_path / "out"
    out.mkdir()
    main: list[int] = []

    def started() -> bool:  # workers forked and scanning
        if not main:
            main.extend(p.pid for p in psutil.process_iter(["cmdline"]) if _is_vectorize(p, out))
        return bool(main) and len(psutil.Process(main[0]).children()) >= 2

    code, stderr, _, children = interrupt(
        ["vectorize", noise, "-o", out / "polygons.gpkg", "--jobs", 2, "--window-size", 512],
        started,
    )
    assert_stopped_cleanly(code, stderr, children, signal.SIGTERM)
    assert list(out.iterdir()) == []


def _is_vectorize(process: psutil.Process, out: Path) -> bool:
    try:
        command = process.info["cmdline"] or []
    except psutil.Error:
        return False
    return "vectorize" in command and str(out / "polygons.gpkg") in command


def test_training_stops_cleanly_and_removes_a_run_with_no_checkpoint(tmp_path):
    scene = tmp_path / "synth"
    assert run_cli("synth", "-o", scene, "--size", 128, 128, "--seed", 1).exit_code == 0
    tiles = tmp_path / "tiles"
    assert (
        run_cli(
            "-q", "tile", scene / "scene.tif", "-l", scene / "labels_clean.tif", "-o", tiles,
            "--size", 64, "--overlap", 0,
        ).exit_code
        == 0
    )  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()

    def started() -> bool:
        return (out / "t_run").exists()

    code, stderr, _, children = interrupt(
        ["train-teacher", tiles, "-o", out / "t.ckpt", "--steps", 5000, "--batch-size", 2],
        started,
    )
    assert_stopped_cleanly(code, stderr, children, signal.SIGTERM)
    if (out / "t_run" / "checkpoints" / "last.ckpt").exists():  # a validation ran in time
        assert "--resume continues it" in stderr
        assert sorted(p.name for p in out.iterdir()) == ["t_run"]
    else:
        assert "nothing was written" in stderr
        assert list(out.iterdir()) == []
    assert "Detected KeyboardInterrupt" not in stderr
    os.sync()
