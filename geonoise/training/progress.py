"""One progress bar over a whole training run, drawn as ``detect``'s is.

Lightning's bar restarts at every Lightning epoch (here the ``val_every`` steps
between two validations), so it shows neither the run's length nor when it
ends, and it adds bars of its own for the sanity check and each validation.
"""

from __future__ import annotations

import sys
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


class RunProgressBar(TQDMProgressBar):
    """The optimizer steps of the run out of ``max_steps``, with their rate and the ETA.

    The postfix holds the last training loss and validation scores. The bar
    goes to stderr (stdout is for what scripts read) and is cleared at the end,
    like the bars of the other commands; validation draws no bar of its own.
    A resumed run starts the bar at the step it resumes from.
    """

    def __init__(self, desc: str = "training") -> None:
        super().__init__(leave=False)
        self.desc = desc

    def init_train_tqdm(self) -> Tqdm:
        return Tqdm(
            desc=self.desc,
            unit="step",
            total=self.trainer.max_steps,
            initial=self.trainer.global_step,
            disable=self.is_disabled,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
            smoothing=0,  # the ETA from the run's mean rate, validations included
        )

    def init_sanity_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def on_train_epoch_start(self, trainer: L.Trainer, *_: Any) -> None:
        """Nothing: Lightning would start the bar afresh at every epoch."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *_: Any) -> None:
        bar = self.train_progress_bar
        if not bar.disable:
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
            bar.update(trainer.global_step - bar.n)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The epoch's mean train loss, drawn with the next step (validation just drew the bar)."""
        self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The progress-bar metrics in name order (train_loss, val_loss, val_miou)."""
        return dict(sorted(super().get_metrics(trainer, pl_module).items()))
