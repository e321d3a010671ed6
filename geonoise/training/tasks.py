"""Teacher and student training with Lightning.

:class:`TeacherTask` learns clean labels with symmetric cross entropy;
:class:`StudentTask` learns noisy labels while a regressor pulls its hint
(bridge features) towards a frozen teacher's. Both share
:class:`SegmentationTask`: normalisation and kornia augmentation on the
training device, torchmetrics IoU/F1 in validation, and self-describing
checkpoints (the :class:`~geonoise.models.checkpoint.ModelMeta` rides along under the
``geonoise`` key).
"""

from __future__ import annotations

import functools
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from geonoise.contracts import IGNORE
from geonoise.models.checkpoint import ModelMeta, check_compatible, load_model
from geonoise.models.normalise import BandNormaliser
from geonoise.models.nrn_rsseg import NRNRSSEG, ModelConfig
from geonoise.training.augment import build_augmentation
from geonoise.training.budget import lr_factor
from geonoise.training.losses import HintLoss, StudentLoss, SymmetricCrossEntropy


class SegmentationTask(L.LightningModule):
    """What teacher and student share; subclasses say how the loss is made.

    Args:
        meta: The model description that every checkpoint carries.
        lr: AdamW's peak learning rate: reached after ``warmup`` of the steps, then
            cosine-annealed to 0 at ``max_steps`` (:func:`~geonoise.training.budget.lr_factor`).
        weight_decay: AdamW weight decay.
        max_steps: Optimizer steps of the run.
        warmup: Share of the steps spent warming the learning rate up.
        sce: Keyword arguments of :class:`SymmetricCrossEntropy` (alpha, beta, log_zero).
        augment: Whether training batches are augmented (D4, mild affine, photometric).
    """

    def __init__(
        self,
        meta: dict[str, Any],
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        max_steps: int = 1000,
        warmup: float = 0.05,
        sce: dict[str, float] | None = None,
        augment: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.meta = ModelMeta.from_dict(meta)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()
        self.augment = build_augmentation() if augment else None
        self.normalise = BandNormaliser.of(self.meta)
        lut = torch.from_numpy(self.meta.label_lut().astype("int64"))
        self.register_buffer("class_lut", lut, False)  # label value → output class

    def configure_models(self) -> None:
        self.model = NRNRSSEG(ModelConfig.from_dict(self.meta.model))

    def configure_losses(self) -> None:
        self.sce = SymmetricCrossEntropy(**(self.hparams.sce or {}), ignore_index=IGNORE)

    def configure_metrics(self) -> None:
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassF1Score, MulticlassJaccardIndex

        k = self.meta.num_classes
        self.val_metrics = MetricCollection(
            {
                "iou": MulticlassJaccardIndex(k, average="none", ignore_index=IGNORE),
                "f1": MulticlassF1Score(k, average="none", ignore_index=IGNORE),
            }
        )

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict:
        batch["image"] = self.normalise(batch["image"])
        batch["mask"] = self.class_lut[batch["mask"]]  # label values → output classes
        if self.training and self.augment is not None and not self.trainer.sanity_checking:
            batch = self.augment(batch)
        return batch

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        return self.model(image)

    def loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        logits, _ = self.model(batch["image"])
        return {"loss": self.sce(logits, batch["mask"])}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses = self.loss(batch)
        size = batch["image"].shape[0]
        for name, value in losses.items():
            self.log(
                f"train_{name}",
                value,
                prog_bar=name == "loss",
                on_epoch=True,
                on_step=False,
                batch_size=size,
                sync_dist=True,
            )
        return losses["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits, _ = self.model(batch["image"])
        loss = self.sce(logits, batch["mask"])
        self.log(
            "val_loss", loss, prog_bar=True, batch_size=batch["image"].shape[0], sync_dist=True
        )
        self.val_metrics.update(logits.argmax(1), batch["mask"])

    def on_validation_epoch_end(self) -> None:
        scores = self.val_metrics.compute()
        for metric, values in scores.items():
            for name, value in zip(self.meta.class_names, values, strict=True):
                self.log(f"val_{metric}_{name}", value, sync_dist=True)
            self.log(f"val_m{metric}", values.mean(), prog_bar=metric == "iou", sync_dist=True)
        self.val_metrics.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        factor = functools.partial(
            lr_factor, total=int(self.hparams.max_steps), warmup=float(self.hparams.warmup)
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": schedule, "interval": "step", "frequency": 1},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["geonoise"] = self.meta.to_dict()


class TeacherTask(SegmentationTask):
    """NRN-RSSEG trained with symmetric cross entropy on clean labels."""


class StudentTask(SegmentationTask):
    """NRN-RSSEG trained on noisy labels, its hint distilled from a frozen teacher.

    Args:
        teacher: Path of the teacher's model file or checkpoint.
        distill_weight: λ in ``λ·distill + (1−λ)·SCE``.
        **kwargs: As for :class:`SegmentationTask`.
    """

    def __init__(
        self, meta: dict[str, Any], teacher: str, distill_weight: float = 0.1, **kwargs: Any
    ) -> None:
        self._teacher_path = teacher
        super().__init__(meta, **kwargs)
        self.save_hyperparameters()

    def configure_models(self) -> None:
        super().configure_models()
        teacher, teacher_meta = load_model(self._teacher_path)
        check_compatible(
            teacher_meta,
            self.meta.bands,
            self.meta.values,
            f"teacher {self._teacher_path}",
            "--teacher",
        )
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        self.teacher = teacher.eval()

    def configure_losses(self) -> None:
        super().configure_losses()
        hint = HintLoss(self.model.hint_channels, self.teacher.hint_channels)
        self.student_loss = StudentLoss(self.sce, hint, self.hparams.distill_weight)

    def train(self, mode: bool = True) -> StudentTask:
        super().train(mode)
        self.teacher.eval()  # the teacher stays frozen, batch-norm statistics included
        return self

    def loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        logits, hint = self.model(batch["image"])
        with torch.no_grad():
            _, teacher_hint = self.teacher(batch["image"])
        return self.student_loss(logits, batch["mask"], hint, teacher_hint)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Without the teacher: it is loaded from its own file, not carried along."""
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "") + "teacher."
        return {k: v for k, v in state.items() if not k.startswith(prefix)}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True, **kw: Any):
        teacher = {f"teacher.{k}": v for k, v in self.teacher.state_dict().items()}
        return super().load_state_dict({**state_dict, **teacher}, strict=strict, **kw)


def frozen(module: nn.Module) -> bool:
    """Whether no parameter of ``module`` takes gradients."""
    return not any(p.requires_grad for p in module.parameters())
