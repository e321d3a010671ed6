"""The Lightning trainer of a run: checkpoints, early stopping, loggers and devices."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise.errors import InvalidInputError
from geonoise.training.config import TrainConfig

if TYPE_CHECKING:
    from geonoise.training.budget import Budget


def build_trainer(
    config: TrainConfig, run_dir: Path, budget: Budget, *, progress: str | None = "training"
):
    """A Lightning trainer with best/last checkpoints, early stopping and the loggers asked.

    A Lightning epoch is ``budget.val_every`` steps (the training loader draws that
    many batches), so validation, checkpoints and early stopping (``patience`` in
    validations, off by default) come every ``val_every`` steps until ``budget.steps``.

    Args:
        progress: The label of the run's progress bar; None for no bar.
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from geonoise.training.progress import RunProgressBar

    _quieten_lightning()

    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor="val_loss",
            mode="min",
            save_last=True,
        )
    ]
    if config.patience is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=config.patience))
    if progress is not None:
        callbacks.append(RunProgressBar(progress))
    with _lightning_refusals():
        return L.Trainer(
            default_root_dir=run_dir,
            max_steps=budget.steps,
            max_epochs=-1,
            accelerator=config.accelerator,
            devices=_devices(config.devices),
            strategy=config.strategy,
            precision=config.precision,
            callbacks=callbacks,
            logger=build_loggers(config.loggers, run_dir),
            enable_progress_bar=progress is not None,
            enable_model_summary=progress is not None,
            log_every_n_steps=1,
            deterministic="warn",
        )


@contextlib.contextmanager
def _lightning_refusals() -> Iterator[None]:
    """Lightning's refusals of --accelerator, --devices, --strategy, --precision as usage errors."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (MisconfigurationException, ValueError, TypeError) as exc:
        message = str(exc).split(". ")[0].rstrip(".")
        option = next(
            (
                f"--{name}"
                for name in ("strategy", "devices", "accelerator", "precision")
                if name in message.lower()
            ),
            "--accelerator",
        )
        raise InvalidInputError(message.replace("`", ""), option=option) from exc


#: The loggers Lightning writes its notes to.
_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


#: Lightning's warnings that tell a geonoise user nothing to act on, as (message, category).
UNACTIONABLE_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # The student's teacher, frozen in eval mode on purpose.
    (r"Found \d+ module\(s\) in eval mode", UserWarning),
    # A resumed run's folders (fit keeps the metrics logged before the resume).
    (r"(Checkpoint|Experiment logs) directory .* exists and is not empty", UserWarning),
    # A resumed run's first epoch end, before it has validated (after, Lightning raises).
    (r"`ModelCheckpoint\(monitor='val_loss'\)` could not find the monitored key", UserWarning),
    # Lightning 2.6 builds torch's deprecated LeafSpec for every set of loaders it combines.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # On machines with more than two CPUs: the tiles are held in memory (--cache), and
    # --num-workers is there for data sets that are not.
    (r"The '\w+' does not have many workers", UserWarning),
)


@contextlib.contextmanager
def training_output() -> Iterator[None]:
    """While a run trains: what Lightning prints on stderr (stdout is for what scripts
    read), log lines above the progress bar rather than through it, and Lightning's
    warnings less the :data:`UNACTIONABLE_WARNINGS`.
    """
    import warnings

    from tqdm.contrib.logging import logging_redirect_tqdm

    loggers = [
        logger
        for logger in map(logging.getLogger, ("geonoise", *_LIGHTNING_LOGGERS))
        if any(_on_console(handler) for handler in logger.handlers)
    ]
    with (
        logging_redirect_tqdm(loggers),
        contextlib.redirect_stdout(sys.stderr),
        warnings.catch_warnings(),
    ):
        for message, category in UNACTIONABLE_WARNINGS:
            warnings.filterwarnings("ignore", message, category)
        yield


def _on_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr)


def _quieten_lightning() -> None:
    """Lightning's notes (devices, model summary, signals) only when geonoise logs INFO (-v).

    Lightning sets its loggers to INFO when imported, which is after the CLI
    configured logging, so their level is set here. Its advert for a cloud
    logger is never shown.
    """
    verbose = logging.getLogger("geonoise").getEffectiveLevel() < logging.WARNING
    for name in _LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_adverts)


def _no_adverts(record: logging.LogRecord) -> bool:
    """False for Lightning's tips (``💡 Tip: … try installing litlogger …``)."""
    return not str(record.msg).startswith("💡 Tip:")


def build_loggers(names: list[str], run_dir: Path) -> list[Any]:
    """CSV always (the curves are drawn from it); TensorBoard and W&B only when asked."""
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(run_dir, name="", version="")]
    for name in names:
        match name:
            case "csv":
                pass
            case "tensorboard":
                from lightning.pytorch.loggers import TensorBoardLogger

                _require_module("tensorboard", "tensorboard")
                loggers.append(TensorBoardLogger(run_dir, name="tensorboard", version=""))
            case "wandb":
                from lightning.pytorch.loggers import WandbLogger

                _require_module("wandb", "wandb")
                loggers.append(WandbLogger(save_dir=run_dir, project="geonoise"))
            case _:
                raise InvalidInputError(
                    f"unknown logger {name!r} (csv, tensorboard, wandb)", option="--logger"
                )
    return loggers


def _require_module(module: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InvalidInputError(
            f"the {module} logger needs `pip install {package}` (or "
            "`pip install geonoise[loggers]`)",
            option="--logger",
        )


def _devices(value: str) -> Any:
    return int(value) if str(value).isdigit() else value
