"""A run's directory beside its model file: made, resumed, or refused.

``-o teacher.ckpt`` trains in ``teacher_run/`` (``checkpoints/{best,last}.ckpt``,
``metrics.csv``, logs); ``--resume`` continues from its last checkpoint and keeps
the metrics logged before it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geonoise.errors import InvalidInputError, OutputExistsError


def run_dir_for(output: str | os.PathLike) -> Path:
    """The run directory of a model file: ``teacher.ckpt`` → ``teacher_run/``."""
    path = Path(output)
    return path.with_name(f"{path.stem}_run")


#: Set by rank 0 for the processes Lightning launches for DDP: the directory the run trains in.
WORK_DIR_ENV = "GEONOISE_RUN_WORK_DIR"


def curves_path(output: str | os.PathLike) -> Path:
    """The learning-curves PNG of a model file: ``teacher.ckpt`` → ``teacher.curves.png``."""
    path = Path(output)
    return path.with_name(f"{path.stem}.curves.png")


def prepare_run_dir(output: Path, resume: bool, overwrite: bool) -> Path:
    """Check the outputs of a run and choose the directory it trains in.

    A new run trains in ``<name>_run/``; one that replaces an earlier run
    (``overwrite``) trains beside it, in ``.<name>_run.partial/``, and
    :func:`commit_run_dir` swaps it in only once training has finished, so a
    failed or interrupted run leaves the earlier one as it was.

    Raises:
        InvalidInputError: ``resume`` without a run to resume.
        OutputExistsError: the model file, its curves or its run directory exist
            (without ``overwrite``).
    """
    import shutil

    from geonoise import io

    run_dir = run_dir_for(output)
    if os.environ.get("LOCAL_RANK", "0") != "0" and WORK_DIR_ENV in os.environ:
        return Path(os.environ[WORK_DIR_ENV])  # a DDP process: rank 0 has checked and chosen
    if resume:
        if not (run_dir / "checkpoints" / "last.ckpt").exists():
            raise InvalidInputError(
                f"nothing to resume: {run_dir}/checkpoints/last.ckpt is missing", option="--resume"
            )
        return _chosen(run_dir)
    io.check_output(output, overwrite)
    io.check_output(curves_path(output), overwrite)
    if not run_dir.exists():
        return _chosen(run_dir)
    if not overwrite:
        raise OutputExistsError(
            f"{run_dir} exists; pass --resume to continue that run or --overwrite to start again"
        )
    partial = run_dir.with_name(f".{run_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was killed outright
    return _chosen(partial)


def _chosen(work_dir: Path) -> Path:
    os.environ[WORK_DIR_ENV] = str(work_dir)
    return work_dir


def commit_run_dir(work_dir: Path, run_dir: Path) -> None:
    """Move a finished run trained beside an earlier one into place (see prepare_run_dir)."""
    import shutil

    if work_dir == run_dir:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    os.replace(work_dir, run_dir)


def discard_run_dir(work_dir: Path, run_dir: Path, resume: bool, interrupted: bool) -> str:
    """Clean up after a run that failed or was interrupted; returns what was kept, in words.

    A resumed run keeps its directory. A new run interrupted after its first
    checkpoint keeps it too, so that ``--resume`` continues it; otherwise the
    directory the run trained in is removed, and an earlier run it was to
    replace stays as it was.
    """
    import shutil

    resumable = work_dir == run_dir and (run_dir / "checkpoints" / "last.ckpt").exists()
    if resume or (interrupted and resumable):
        return f"{run_dir} keeps the run up to its last checkpoint: --resume continues it"
    shutil.rmtree(work_dir, ignore_errors=True)
    if work_dir != run_dir:
        return f"nothing was written; {run_dir} is as it was"
    return "nothing was written"


def earlier_metrics(run_dir: Path) -> Any:
    """The metrics of the run being resumed (Lightning's CSV logger starts its file afresh)."""
    import pandas as pd

    path = run_dir / "metrics.csv"
    return pd.read_csv(path) if path.exists() else None


def prepend_metrics(earlier: Any, path: Path) -> None:
    import pandas as pd

    later = pd.read_csv(path)
    kept = earlier[earlier["epoch"] < later["epoch"].min()]
    pd.concat([kept, later], ignore_index=True).to_csv(path, index=False)


def resumed_meta(last: Path) -> dict[str, Any]:
    from geonoise.models.checkpoint import read_checkpoint

    return read_checkpoint(last)[0].to_dict()
