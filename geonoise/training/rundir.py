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


def prepare_run_dir(output: Path, resume: bool, overwrite: bool) -> Path:
    import shutil

    from geonoise import io

    run_dir = run_dir_for(output)
    if resume:
        if not (run_dir / "checkpoints" / "last.ckpt").exists():
            raise InvalidInputError(
                f"nothing to resume: {run_dir}/checkpoints/last.ckpt is missing", option="--resume"
            )
        return run_dir
    io.check_output(output, overwrite)
    if run_dir.exists():
        if not overwrite:
            raise OutputExistsError(
                f"{run_dir} exists; pass --resume to continue that run or "
                "--overwrite to start again"
            )
        shutil.rmtree(run_dir)
    return run_dir


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
