"""One training run, from a tile directory to a model file.

:func:`fit` opens the data (a ``tiles.gpkg`` directory, or a pair of image and
label folders), splits it spatially, computes the normalisation from the
training tiles, builds the Lightning trainer (checkpoints, early stopping,
loggers) and, at the end, writes the best weights as a self-describing model
file and a PNG of the learning curves beside it.

Layout for ``-o teacher.ckpt``::

    teacher.ckpt             the model file detect uses (weights + metadata)
    teacher.curves.png       training and validation curves
    teacher_run/             checkpoints/{best,last}.ckpt for --resume, metrics.csv, logs

Cross-fitting (:func:`fit_folds`) writes one such set per fold, Noisy Student
rounds (:func:`fit_rounds`) one per round.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise.data.datasets import open_tiles
from geonoise.data.sampling import Draws, RandomWindows
from geonoise.data.stats import label_counts, shares
from geonoise.data.tiledir import read_tile_index
from geonoise.errors import Interrupted, InvalidInputError
from geonoise.training.budget import Budget, plan_budget
from geonoise.training.config import Role, TrainConfig
from geonoise.training.diagnosis import diagnose
from geonoise.training.meta import build_meta
from geonoise.training.rundir import (
    commit_run_dir,
    curves_path,
    discard_run_dir,
    earlier_metrics,
    prepare_run_dir,
    prepend_metrics,
    resumed_meta,
    run_dir_for,
)
from geonoise.training.trainer import build_trainer, training_output

if TYPE_CHECKING:
    import lightning as L
    import numpy as np
    from torch.utils.data import DataLoader, Dataset

    from geonoise.data.datasets import PairDataset
    from geonoise.training.tasks import SegmentationTask

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Where a run wrote its outputs, how long it trained, its scores and what they mean.

    Paths are built on the model file's path as it was given: relative where it was
    relative, absolute where it was absolute (as ``tile`` and ``detect`` report theirs).

    Attributes:
        epochs_run: Validations run (a Lightning epoch is the steps between two).
        metrics: The best validation's scores (``val_loss``, ``val_iou_<class>``, …).
        split: The validation split, in words (sizes, overlaps hidden, tiles left out).
        diagnosis: Whether every class was learned, and if not why (see
            :mod:`geonoise.training.diagnosis`).
    """

    model_file: str
    curves: str | None
    run_dir: str
    best_checkpoint: str
    epochs_run: int
    metrics: dict[str, float]
    steps_run: int = 0
    budget: dict[str, Any] | None = None
    split: str | None = None
    diagnosis: dict[str, Any] | None = None

    @property
    def warnings(self) -> list[str]:
        return list((self.diagnosis or {}).get("warnings", []))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingData:
    """The samples of a run and what is known of them before it starts."""

    train: PairDataset
    val: PairDataset
    split: str
    train_counts: np.ndarray  # labelled pixels per label value
    val_counts: np.ndarray
    #: What training batches are drawn from: random windows, or the tiles themselves.
    samples: Dataset

    @property
    def windows(self) -> int:
        """The training area in windows of the sample size."""
        return len(self.samples)


def split_data(dataset: PairDataset, config: TrainConfig) -> tuple[PairDataset, PairDataset, str]:
    """Spatially blocked train/validation subsets (random by file for plain folders).

    Tiles that overlap validation tiles are left out of training, so no pixel is
    both trained and validated on.
    """
    from geonoise.data.datasets import TileDataset
    from geonoise.data.splits import blocked_split, folder_split

    if isinstance(dataset, TileDataset):
        split = blocked_split(dataset.index, config.val_fraction, config.block_size, config.seed)
        logger.info("%s", split.describe())
        return dataset.subset(split.train), dataset.subset(split.val), split.describe()
    logger.warning(
        "plain image folders carry no location: validation tiles are drawn at "
        "random and may overlap training tiles"
    )
    train_ids, val_ids = folder_split(dataset.tile_ids, config.val_fraction, config.seed)
    description = f"{len(val_ids)} of {len(dataset)} images drawn at random for validation"
    return dataset.subset(train_ids), dataset.subset(val_ids), description


def fit(
    role: Role,
    tiles: str,
    output: str | os.PathLike,
    config: TrainConfig,
    *,
    labels_dir: str | None = None,
    teacher: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    tile_ids: list[str] | None = None,
    holdout: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
) -> FitResult | None:
    """Train a teacher or a student and write its model file; None on non-zero DDP ranks.

    Args:
        tile_ids: Train and validate on these tiles only (a cross-fitting fold).
        holdout: The region this model never sees labels of (labels there read as
            ignore), kept in its meta.
        lineage: Where the model comes from (a Noisy Student round: its round, parent
            and tiles), kept in its meta's ``training``.

    Raises:
        OutputExistsError: the model file or its run directory exists (without
            ``overwrite`` or ``resume``).
        InvalidInputError: bad data, config, or a teacher that does not fit.
    """
    import lightning as L

    output = Path(output)
    _check_teacher(role, teacher)
    work_dir = prepare_run_dir(output, resume, overwrite)
    run_dir = run_dir_for(output)
    last = work_dir / "checkpoints" / "last.ckpt"
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = _training_data(tiles, labels_dir, config, tile_ids, holdout)
    budget = _budget(config, data)
    meta = resumed_meta(last) if resume else build_meta(data.train, config, role)
    if holdout is not None and not resume:
        meta["holdout"] = holdout
    if lineage is not None and not resume:
        meta["training"] = {**meta["training"], **lineage}
    task = _task(role, meta, config, teacher, budget)
    earlier = earlier_metrics(work_dir) if resume else None
    try:
        label = f"training {output.name}" if progress else None
        trainer = build_trainer(config, work_dir, budget, progress=label)
        loaders = _loaders(data, config, budget, trainer.world_size)
        _run_trainer(trainer, task, loaders, last if resume else None)
        best = _best_checkpoint(trainer, data) if trainer.global_rank == 0 else None
    except BaseException as exc:
        kept = discard_run_dir(work_dir, run_dir, resume, isinstance(exc, Interrupted))
        if isinstance(exc, Interrupted):
            exc.note = kept
        raise
    if best is None:  # a non-zero DDP rank: rank 0 writes the outputs
        return None
    commit_run_dir(work_dir, run_dir)
    if earlier is not None:
        prepend_metrics(earlier, run_dir / "metrics.csv")
    result = _finish(trainer, output, run_dir, best, overwrite or resume, data)
    result.budget, result.split = budget.to_dict(), data.split
    for warning in result.warnings:
        logger.warning("%s: %s", output, warning)
    return result


def _budget(config: TrainConfig, data: TrainingData) -> Budget:
    budget = plan_budget(
        steps=config.steps,
        epochs=config.epochs,
        batch_size=config.batch_size,
        train_tiles=len(data.train),
        windows=data.windows,
    )
    logger.info(
        "%d optimizer steps (%s), validating every %d", budget.steps, budget.rule, budget.val_every
    )
    return budget


def _check_teacher(role: Role, teacher: str | None) -> None:
    """Fail before any work where a student has no teacher, or one that is no model."""
    from geonoise.models.checkpoint import read_checkpoint

    if role != "student":
        return
    if teacher is None:
        raise InvalidInputError("a student needs a teacher model", option="--teacher")
    read_checkpoint(teacher)


def _training_data(
    tiles: str,
    labels_dir: str | None,
    config: TrainConfig,
    tile_ids: list[str] | None,
    holdout: dict[str, str] | None,
) -> TrainingData:
    """The training and validation sets: a fold's tiles, blind to its held-out region."""
    dataset = open_tiles(tiles, labels_dir, cache=config.cache, binary_255=config.binary_255)
    if tile_ids is not None:
        dataset = dataset.subset(tile_ids)
    if holdout is not None:
        import shapely

        dataset = dataset.blind_to(shapely.from_wkt(holdout["wkt"]), holdout["crs"])
    if config.cache and config.num_workers > 0:
        dataset.preload()  # before the workers fork, so that they share one cache
    train, val, split = split_data(dataset, config)
    samples: Dataset = train
    if config.sampler == "windows":
        samples = RandomWindows(train, config.window or train.tile_size, config.rare_share)
    return TrainingData(train, val, split, label_counts(train), label_counts(val), samples)


def _task(
    role: Role, meta: dict[str, Any], config: TrainConfig, teacher: str | None, budget: Budget
) -> SegmentationTask:
    from geonoise.training.tasks import StudentTask, TeacherTask

    common = {
        "lr": config.lr,
        "weight_decay": config.weight_decay,
        "max_steps": budget.steps,
        "warmup": config.warmup,
        "sce": {"alpha": config.sce_alpha, "beta": config.sce_beta},
        "augment": config.augment,
    }
    if role == "student":
        return StudentTask(
            meta, teacher=str(teacher), distill_weight=config.distill_weight, **common
        )
    return TeacherTask(meta, **common)


def _loaders(
    data: TrainingData, config: TrainConfig, budget: Budget, world_size: int = 1
) -> tuple[DataLoader, DataLoader]:
    """Training batches drawn at random, ``val_every`` of them a Lightning epoch; validation.

    Under DDP each of the ``world_size`` processes draws ``val_every`` batches of its own.
    """
    from torch.utils.data import DataLoader

    loader = {
        "batch_size": config.batch_size,
        "num_workers": config.num_workers,
        "persistent_workers": config.num_workers > 0,
    }
    # Full batches only: BatchNorm cannot use a batch of one, and every step sees as much.
    sampler = Draws(len(data.samples), budget.val_every * config.batch_size * world_size)
    return (
        DataLoader(data.samples, sampler=sampler, drop_last=True, **loader),
        DataLoader(data.val, **loader),
    )


def _run_trainer(
    trainer: L.Trainer,
    task: SegmentationTask,
    loaders: tuple[DataLoader, DataLoader],
    resume_from: Path | None,
) -> None:
    with training_output():
        trainer.fit(task, *loaders, ckpt_path=str(resume_from) if resume_from is not None else None)


def fold_paths(output: str | os.PathLike, folds: int) -> tuple[list[Path], Path]:
    """The model files of ``folds`` cross-fitted models named after ``output``, and their list.

    ``student.ckpt`` → ``student.fold1.ckpt`` … and ``student.folds.txt``.
    """
    output = Path(output)
    models = [
        output.with_name(f"{output.stem}.fold{i}{output.suffix}") for i in range(1, folds + 1)
    ]
    return models, output.with_name(f"{output.stem}.folds.txt")


def fit_folds(
    role: Role,
    tiles: str,
    output: str | os.PathLike,
    config: TrainConfig,
    folds: int,
    *,
    teacher: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> list[FitResult] | None:
    """Cross-fitting: one model per spatial fold, each blind to the labels of its fold.

    Writes the models of :func:`fold_paths`, each carrying its held-out region
    (``meta.holdout``), and the list file naming them, which ``detect -m @LIST``
    reads. With ``resume``, a fold whose model file exists is kept and one with
    a run directory continues; the others start afresh.

    Returns:
        One result per fold trained here (None on non-zero DDP ranks).

    Raises:
        InvalidInputError: a folder pair (no footprints to fold), or folds that do not fit.
        OutputExistsError: an output exists (without ``overwrite`` or ``resume``).
    """
    from geonoise import io
    from geonoise.data.splits import holdout_region, spatial_folds

    index = read_tile_index(tiles, "TILES")  # cross-fitting needs the tiles' footprints
    models, listing = fold_paths(output, folds)
    if not resume:
        for path in [*models, listing, *(run_dir_for(m) for m in models)]:
            io.check_output(path, overwrite)
    plan = spatial_folds(index, folds, config.block_size)  # fails before any work
    results: list[FitResult] = []
    for path, fold in zip(models, plan, strict=True):
        if resume and path.exists():
            continue
        result = fit(
            role,
            tiles,
            path,
            config,
            teacher=teacher,
            resume=resume and (run_dir_for(path) / "checkpoints" / "last.ckpt").exists(),
            overwrite=overwrite or resume,
            progress=progress,
            tile_ids=fold.train,
            holdout=holdout_region(index, fold.held_out),
        )
        if result is None:
            return None
        results.append(result)
    with io.atomic_output(listing, overwrite=True) as tmp:
        tmp.write_text("".join(f"{path}\n" for path in models), encoding="utf-8")
    return results


def fit_rounds(
    tiles: str,
    output: str | os.PathLike,
    config: TrainConfig,
    *,
    teacher: str,
    overwrite: bool = False,
    progress: bool = True,
) -> list[tuple[dict[str, Any], FitResult]] | None:
    """Noisy Student rounds: round 1 is the student of ``teacher``, round k's teacher is
    round k−1's student, and from round 2 the labels are those round k−1 cleaned.

    Writes the models of :func:`~geonoise.training.rounds.round_paths`, each
    naming its round, parent and tiles in its meta, the tile directory of every
    round from the second (:mod:`geonoise.training.rounds`), and ``output``, a
    copy of the last round's model.

    Returns:
        Per round its lineage (round, parent, tiles) and result; None on non-zero DDP ranks.

    Raises:
        InvalidInputError: TILES is no tile directory.
        OutputExistsError: an output exists (without ``overwrite``).
    """
    import shutil

    from geonoise import io
    from geonoise.training.rounds import round_paths, round_tiles_path

    read_tile_index(tiles, "TILES")  # a round's tile directory is derived from the index
    models = round_paths(output, config.rounds)
    each = [p for m in models for p in (m, curves_path(m), run_dir_for(m))]
    for path in [output, *each, *(round_tiles_path(m) for m in models[1:])]:
        io.check_output(path, overwrite)
    results: list[tuple[dict[str, Any], FitResult]] = []
    parent = str(teacher)
    for k, path in enumerate(models, start=1):
        lineage: dict[str, Any] = {"round": k, "parent": parent, "tiles": str(tiles)}
        if k > 1:
            lineage |= _round_tiles(tiles, parent, path, config, overwrite)
        result = fit(
            "student",
            lineage["tiles"],
            path,
            config,
            teacher=parent,
            overwrite=overwrite,
            progress=progress,
            lineage=lineage,
        )
        if result is None:
            return None
        results.append((lineage, result))
        parent = str(path)
    with io.atomic_output(output, overwrite=overwrite) as tmp:
        shutil.copyfile(models[-1], tmp)
    return results


def _round_tiles(
    tiles: str, parent: str, model: Path, config: TrainConfig, overwrite: bool
) -> dict[str, Any]:
    """Write the tiles the round of ``model`` trains on: ``tiles`` cleaned by ``parent``."""
    from geonoise.data.datasets import TileDataset
    from geonoise.models.inference import open_predictor
    from geonoise.training.rounds import round_tiles_path, write_round_tiles

    path = round_tiles_path(model)
    device = "cpu" if config.accelerator == "cpu" else "auto"
    changed = write_round_tiles(
        TileDataset(tiles),
        open_predictor(parent, device),
        path,
        config.round_threshold,
        config.round_mode,
        overwrite=overwrite,
    )
    logger.info("%s: %.1f %% of the labels rewritten by %s", path, 100 * changed, parent)
    return {"tiles": str(path), "labels_changed": changed}


def _best_checkpoint(trainer: L.Trainer, data: TrainingData) -> str:
    """The file name of the run's best checkpoint (its last, without validation scores)."""
    callback = trainer.checkpoint_callback
    best = callback.best_model_path or callback.last_model_path
    if not best:
        raise InvalidInputError(
            f"training wrote no checkpoint after {trainer.global_step} optimizer steps "
            f"on {len(data.train)} training tiles (no full training batch?)"
        )
    return Path(best).name


def _finish(
    trainer: L.Trainer,
    output: Path,
    run_dir: Path,
    best_name: str,
    replace: bool,
    data: TrainingData,
) -> FitResult:
    """Best weights → model file (with the diagnosis in its meta); metrics.csv → curves PNG.

    ``best_name`` is the checkpoint :func:`_best_checkpoint` chose, now in ``run_dir``.
    """
    from geonoise import io
    from geonoise.io.plots import plot_curves, read_metrics
    from geonoise.models.checkpoint import load_model, save_model

    best = str(run_dir / "checkpoints" / best_name)
    model, meta = load_model(best)
    history = read_metrics(run_dir / "metrics.csv")
    scored = history.dropna(subset=["val_loss"]) if "val_loss" in history else history
    best_row = scored.loc[scored["val_loss"].idxmin()] if len(scored) else {}
    metrics = {k: float(v) for k, v in dict(best_row).items() if k.startswith("val_")}
    diagnosis = diagnose(
        metrics,
        meta.class_names,
        meta.values,
        shares(data.train_counts),
        shares(data.val_counts),
        steps=int(trainer.global_step),
        train_tiles=len(data.train),
        band_std=meta.band_std,
    ).to_dict()
    meta.training = {**meta.training, "diagnosis": diagnosis}  # detect warns from it
    with io.atomic_output(output, overwrite=replace) as tmp:
        save_model(tmp, model, meta)
    curves = curves_path(output)
    with io.atomic_output(curves, overwrite=True) as tmp:
        plot_curves(history, tmp, title=f"{output.name}: {meta.role} learning curves")
    return FitResult(
        str(output),
        str(curves),
        str(run_dir),
        str(best),
        int(trainer.current_epoch),
        metrics,
        int(trainer.global_step),
        diagnosis=diagnosis,
    )


@dataclass
class TrainResult:
    """What a training command wrote: one model, one per fold and their list file, or
    one per Noisy Student round and the last round's copy under the name asked for."""

    models: list[FitResult]
    listing: str | None = None
    #: Per round: its number, parent (teacher file), tiles and share of labels rewritten.
    rounds: list[dict[str, Any]] | None = None
    final: str | None = None

    @property
    def output(self) -> str:
        """The path a script reads: the model file, or the fold list."""
        return self.listing or self.final or self.models[0].model_file

    def to_dict(self) -> dict[str, Any]:
        if self.rounds is not None:
            rounds = [{**r, **m.to_dict()} for r, m in zip(self.rounds, self.models, strict=True)]
            return {"rounds": rounds, "model_file": self.final}
        if self.listing is None:
            return self.models[0].to_dict()
        return {"folds": [m.to_dict() for m in self.models], "list": self.listing}


def train(
    role: Role,
    tiles: str,
    output: str | os.PathLike,
    config: TrainConfig,
    *,
    labels_dir: str | None = None,
    teacher: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult | None:
    """``train-teacher`` / ``train-student``: one model, or ``config.folds`` cross-fitted ones.

    Returns None on non-zero DDP ranks (rank 0 reports).

    Raises:
        InvalidInputError: cross-fitting asked of image folders (they have no footprints).
    """
    common = {"teacher": teacher, "resume": resume, "overwrite": overwrite, "progress": progress}
    if config.rounds > 1:
        _check_rounds(role, labels_dir, resume, config)
        rounds = fit_rounds(
            tiles, output, config, teacher=str(teacher), overwrite=overwrite, progress=progress
        )
        if rounds is None:
            return None
        lineages, results = zip(*rounds, strict=True)
        return TrainResult(list(results), rounds=list(lineages), final=str(output))
    if config.folds > 1:
        if labels_dir is not None:
            raise InvalidInputError("--folds needs a tile directory (footprints), not --labels-dir")
        results = fit_folds(role, tiles, output, config, config.folds, **common)
        if results is None:
            return None
        return TrainResult(results, str(fold_paths(output, config.folds)[1]))
    result = fit(role, tiles, output, config, labels_dir=labels_dir, **common)
    return None if result is None else TrainResult([result])


def _check_rounds(role: Role, labels_dir: str | None, resume: bool, config: TrainConfig) -> None:
    """Refuse, before any work, what Noisy Student rounds do not combine with."""
    refused = [
        (role != "student", "a teacher", "rounds are the student's"),
        (labels_dir is not None, "--labels-dir", "make a tile directory with `geonoise tile`"),
        (
            config.folds > 1,
            "--folds",
            "cross-fit afterwards: train-student on the last round's "
            "tiles with its teacher and --folds",
        ),
        (resume, "--resume", "train the rounds again with --overwrite"),
        ("ddp" in config.strategy, f"--strategy {config.strategy}", "train them on one device"),
    ]
    for found, what, way_out in refused:
        if found:
            raise InvalidInputError(
                f"--rounds {config.rounds} cannot be combined with {what}; {way_out}",
                option="--rounds",
            )
