"""The Lightning trainer of a run: checkpoints, early stopping, loggers and devices."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise.errors import InvalidInputError
from geonoise.training.config import TrainConfig

if TYPE_CHECKING:
    from geonoise.training.budget import Budget


def build_trainer(config: TrainConfig, run_dir: Path, budget: Budget, *, progress: bool):
    """A Lightning trainer with best/last checkpoints, early stopping and the loggers asked.

    A Lightning epoch is ``budget.val_every`` steps (the training loader draws that
    many batches), so validation, checkpoints and early stopping (``patience`` in
    validations, off by default) come every ``val_every`` steps until ``budget.steps``.
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

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
            enable_progress_bar=progress,
            enable_model_summary=progress,
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


def _quieten_lightning() -> None:
    """Lightning's notes (devices, model summary, signals) only when geonoise logs INFO (-v).

    Lightning sets its loggers to INFO when imported, which is after the CLI
    configured logging, so their level is set here.
    """
    import logging

    verbose = logging.getLogger("geonoise").getEffectiveLevel() < logging.WARNING
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


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
