"""Training losses: symmetric cross entropy, the hint (distillation) loss and their mix.

The teacher is trained with :class:`SymmetricCrossEntropy` on clean labels; the student with
:class:`StudentLoss`, which adds :class:`HintLoss` between its bridge features and the frozen
teacher's (DESIGN.md, "The method").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geonoise.contracts import IGNORE


class SymmetricCrossEntropy(nn.Module):
    """``alpha * CE + beta * RCE`` for segmentation (Wang et al. 2019, ICCV).

    Reference: Wang, Y. et al. (2019). Symmetric Cross Entropy for Robust Learning with Noisy
    Labels. ICCV. RCE, the reverse cross entropy, swaps prediction and label:
    ``RCE = -sum_k p_k log q_k`` with ``p`` the softmax (clamped to ``[1e-7, 1]`` as in the
    official code) and ``q`` the one-hot label clamped to ``[1e-4, 1]``, i.e. ``log 0 := A``
    with ``A = ln 1e-4``; per pixel it equals ``-A (1 - p_y)``, bounded by ``-A`` however
    confidently the label is contradicted. CE keeps growing instead, so on a wrong label SCE
    grows only through its ``alpha * CE`` part; the larger ``beta / alpha``, the more the
    bounded, noise-tolerant RCE dominates.

    Defaults ``alpha = beta = 0.5`` are the seed project's. The paper's published values are
    ``alpha=0.1, beta=1.0`` (CIFAR-10) and ``alpha=6.0, beta=0.1`` (CIFAR-100, where the paper
    needed the larger CE weight for the harder task to converge).

    Args:
        alpha: Weight of the cross-entropy term (>= 0).
        beta: Weight of the reverse cross-entropy term (>= 0).
        log_zero: ``A``, the value taken for ``log 0`` (< 0); default ``ln 1e-4``.
        ignore_index: Label value whose pixels neither count nor receive a gradient.

    Inputs to ``forward``: logits ``(N, K, H, W)`` and integer labels ``(N, H, W)`` of any
    integer dtype (label tiles are uint8). Returns the mean over labelled pixels; a batch
    without any returns a zero that still backpropagates.
    """

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        log_zero: float = math.log(1e-4),
        ignore_index: int = IGNORE,
    ) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got alpha={alpha}, beta={beta}")
        if not log_zero < 0:
            raise ValueError(f"log_zero must be negative (the log of 0 < q < 1), got {log_zero}")
        self.alpha = alpha
        self.beta = beta
        self.log_zero = log_zero
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Return the scalar loss; see the class docstring."""
        return self.reduce(self.pixel_loss(logits, target), target)

    def pixel_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """Per-pixel loss ``(N, H, W)``; ignored pixels hold 0."""
        target = target.long()
        valid = target != self.ignore_index
        safe_target = torch.where(valid, target, torch.zeros_like(target))
        ce = F.cross_entropy(logits, safe_target, reduction="none")
        prob = logits.softmax(dim=1).clamp(min=1e-7, max=1.0)
        one_hot = F.one_hot(safe_target, logits.shape[1]).movedim(-1, 1).to(prob.dtype)
        rce = -(prob * (1.0 - one_hot)).sum(dim=1) * self.log_zero
        loss = self.alpha * ce + self.beta * rce
        return torch.where(valid, loss, torch.zeros_like(loss))

    def reduce(self, pixel_loss: Tensor, target: Tensor) -> Tensor:
        """Mean of ``pixel_loss`` over the pixels of ``target`` that are not ignored."""
        count = (target != self.ignore_index).sum().clamp(min=1)
        return pixel_loss.sum() / count


class HintLoss(nn.Module):
    """MSE between the regressed student hint and the (constant) teacher hint (FitNets-style).

    The regressor is a learned 1×1 convolution with bias: a linear per-pixel map from the
    student's hint channels to the teacher's. It is deliberately weak so that the student's
    bridge itself, not the regressor, has to carry the teacher's features. When the widths
    match it starts as the identity, so the loss begins as plain MSE between the hints, and
    is still trained. If the regressed hint's spatial size differs from the teacher's it is
    resized bilinearly to it.

    Args:
        student_channels: Channels of the student's hint.
        teacher_channels: Channels of the teacher's hint.
    """

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        if student_channels < 1 or teacher_channels < 1:
            raise ValueError(
                f"hint channels must be positive, got {student_channels} and {teacher_channels}"
            )
        self.regressor = nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
        if student_channels == teacher_channels:
            nn.init.dirac_(self.regressor.weight)
            nn.init.zeros_(self.regressor.bias)

    def forward(self, student_hint: Tensor, teacher_hint: Tensor) -> Tensor:
        """Return the scalar MSE; no gradient flows into ``teacher_hint``."""
        teacher_hint = teacher_hint.detach()
        if student_hint.shape[1] != self.regressor.in_channels:
            raise ValueError(
                f"student hint has {student_hint.shape[1]} channels, "
                f"the regressor expects {self.regressor.in_channels}"
            )
        if teacher_hint.shape[:2] != (student_hint.shape[0], self.regressor.out_channels):
            raise ValueError(
                f"teacher hint of shape {tuple(teacher_hint.shape)} does not match batch "
                f"{student_hint.shape[0]} and {self.regressor.out_channels} channels"
            )
        regressed = self.regressor(student_hint)
        if regressed.shape[-2:] != teacher_hint.shape[-2:]:
            regressed = F.interpolate(
                regressed, size=teacher_hint.shape[-2:], mode="bilinear", align_corners=False
            )
        return F.mse_loss(regressed, teacher_hint)


class StudentLoss(nn.Module):
    """``distill_weight * hint loss + (1 - distill_weight) * SCE`` for the student.

    The default ``distill_weight = 0.1`` is what measured best on the sample data
    (benchmarks/training.md: 0.5 let a teacher from another region pull the student below
    the same network trained on the noisy labels alone; 0.1 put it above, on average).
    The hint loss holds the learned regressor, so the student's optimizer must include
    this module's parameters.

    Args:
        sce: The label term.
        hint: The distillation term.
        distill_weight: ``λ`` in ``[0, 1]``.
    """

    def __init__(
        self, sce: SymmetricCrossEntropy, hint: HintLoss, distill_weight: float = 0.1
    ) -> None:
        super().__init__()
        if not 0.0 <= distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1], got {distill_weight}")
        self.sce = sce
        self.hint = hint
        self.distill_weight = distill_weight

    def forward(
        self, logits: Tensor, target: Tensor, student_hint: Tensor, teacher_hint: Tensor
    ) -> dict[str, Tensor]:
        """Return ``{"loss", "sce", "distill"}``; ``loss`` is the one to backpropagate."""
        sce = self.sce(logits, target)
        distill = self.hint(student_hint, teacher_hint)
        loss = self.distill_weight * distill + (1.0 - self.distill_weight) * sce
        return {"loss": loss, "sce": sce, "distill": distill}
