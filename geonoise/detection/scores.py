"""Noise scores: how strongly a model disagrees with the given label of a pixel.

All functions take class probabilities ``(K, H, W)`` (or ``(N, K, H, W)``) and
labels ``(H, W)`` of class ids with 255 = ignore, and return float32 scores in
[0, 1] with NaN where the label is ignored.

* ``self-confidence`` (default): ``1 − p(label)``.
* ``confident-learning``: the per-class thresholds of confident learning
  (Northcutt et al. 2021, as in cleanlab): ``t_j`` is the mean probability of
  class ``j`` over the pixels labelled ``j``. Probabilities are divided by
  their class's threshold and renormalised, so a class the model is generally
  unsure of is not flagged just for that; the score is ``1 − q(label)`` of
  these calibrated probabilities. A pixel whose calibrated label probability
  is not the largest is exactly one that confident learning's rule
  ``argmax_j {p_j ≥ t_j}`` would count as off-diagonal (for K = 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError
from geonoise.models.inference import label_probability

if TYPE_CHECKING:
    from geonoise.models.checkpoint import ModelMeta

Method = Literal["self-confidence", "confident-learning"]
METHODS: tuple[str, ...] = ("self-confidence", "confident-learning")

TileScore = Literal["mean", "softmin", "fraction", "iou"]
#: Tile scores of ``detect --tiles``; ``evaluate`` computes all but ``iou`` from a noise map.
TILE_SCORES: tuple[str, ...] = ("mean", "softmin", "fraction", "iou")
#: The tile scores that need only the pixels' noise scores.
TILE_STATISTICS: tuple[str, ...] = ("mean", "softmin", "fraction")
#: Temperature of the softmin tile score (cleanlab's default for segmentation).
SOFTMIN_TEMPERATURE = 0.1


def self_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``1 − p(label)``: the plain noise score."""
    return (1.0 - label_probability(probs, labels)).astype(np.float32)


@dataclass
class ScoreAccumulator:
    """Running count, sum and count at or above 0.5 of scored (non-NaN) pixel scores."""

    scored: int = 0
    score_sum: float = 0.0
    noisy: int = 0

    def add(self, score: np.ndarray, known: np.ndarray | None = None) -> None:
        """Add the scores where ``known`` (default: where they are not NaN)."""
        known = ~np.isnan(score) if known is None else known
        self.scored += int(np.count_nonzero(known))
        self.score_sum += float(np.sum(score, where=known, dtype=np.float64))
        self.noisy += int(np.count_nonzero((score >= 0.5) & known))

    @property
    def mean(self) -> float | None:
        """Mean score, None where nothing was scored."""
        return self.score_sum / self.scored if self.scored else None

    @property
    def noisy_fraction(self) -> float | None:
        """Share of scores at or above 0.5, None where nothing was scored."""
        return self.noisy / self.scored if self.scored else None


class ThresholdAccumulator:
    """Running per-class mean of ``p(label)`` over labelled pixels: CL's thresholds."""

    def __init__(self, num_classes: int) -> None:
        self.sums = np.zeros(num_classes, np.float64)
        self.counts = np.zeros(num_classes, np.int64)

    def update(self, probs: np.ndarray, labels: np.ndarray) -> None:
        """Add the pixels of ``probs`` and their ``labels``."""
        self.add(label_probability(probs, labels), labels)

    def add(self, p_label: np.ndarray, labels: np.ndarray) -> None:
        """Add pixels whose ``p(label)`` is known already.

        Pixels whose label is not a class (≥ K, the ignore value included) are
        left out whatever their ``p_label``; so are NaN values of ``p_label``.
        """
        k = len(self.sums)
        flat = labels.ravel()
        if flat.dtype.kind == "u":
            # One pass each, no masking: labels ≥ k (and the ignore value) fall in bins
            # past k, and so do the NaNs of their p(label).
            sums = np.bincount(flat, weights=p_label.ravel(), minlength=k)[:k]
            if not np.isnan(sums).any():  # a NaN p(label) of a class: take the masked way
                self.sums += sums
                self.counts += np.bincount(flat, minlength=k)[:k]
                return
        valid = ~np.isnan(p_label)
        self.sums += np.bincount(labels[valid], weights=p_label[valid], minlength=k)[:k]
        self.counts += np.bincount(labels[valid], minlength=k)[:k]

    def thresholds(self) -> np.ndarray:
        """Per-class thresholds; 1/K for a class no pixel is labelled with."""
        k = len(self.sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums / self.counts
        return np.where(self.counts > 0, means, 1.0 / k).astype(np.float32)


def confident_learning(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``1 − q(label)`` with ``q ∝ p / t`` (per-class thresholds ``t``)."""
    shape = [1] * probs.ndim
    shape[-3] = -1
    scaled = probs / np.maximum(thresholds, 1e-6).reshape(shape)
    calibrated = scaled / np.sum(scaled, axis=-3, keepdims=True)
    return self_confidence(calibrated.astype(np.float32), labels)


def softmin_score(scores: np.ndarray, temperature: float = SOFTMIN_TEMPERATURE) -> float:
    """``1 − softmin(1 − scores)``: a tile's noise weighted towards its worst pixels.

    The softmin of qualities ``q`` is ``Σ q·w / Σ w`` with ``w = exp(−q / T)``;
    NaN for no pixel.
    """
    if not scores.size:
        return float("nan")
    quality = 1.0 - scores.astype(np.float64)
    weights = np.exp(-(quality - quality.min()) / temperature)  # shifted: no underflow
    return float(1.0 - (quality * weights).sum() / weights.sum())


def tile_statistic(scores: np.ndarray, kind: str, threshold: float = 0.5) -> float:
    """A tile's score from its pixels' noise scores (higher = noisier; NaN for no pixel).

    ``mean`` pixel score; ``softmin`` (:func:`softmin_score`); ``fraction`` of
    pixels scoring at least ``threshold``.
    """
    if not scores.size:
        return math.nan
    match kind:
        case "softmin":
            return softmin_score(scores)
        case "fraction":
            return float((scores >= threshold).mean())
        case "mean":
            return float(scores.mean())
    raise ValueError(f"unknown tile statistic {kind!r}")


def iou_distance(predicted: np.ndarray, label: np.ndarray) -> float:
    """``1 −`` the mean IoU of predicted and given classes over the classes in either.

    Pixels labelled ignore are left out; 0 where the two agree everywhere.
    """
    known = label != IGNORE
    ious = []
    for k in np.union1d(np.unique(label[known]), np.unique(predicted[known])):
        inter = np.sum((label == k) & (predicted == k) & known)
        union = np.sum(((label == k) | (predicted == k)) & known)
        ious.append(inter / union if union else 1.0)
    return float(1.0 - np.mean(ious)) if ious else 0.0


def predicted_class(probs: np.ndarray) -> np.ndarray:
    """``probs.argmax(0)`` as uint8 for ``(K, rows, cols)`` probabilities (K ≤ 256).

    A running maximum over the classes: numpy's argmax along the first axis goes
    pixel by pixel, a large share of detect's time beside a small model.
    Ties go to the lower class, as with argmax.
    """
    best = probs[0].copy()
    out = np.zeros(best.shape, np.uint8)
    for k in range(1, probs.shape[0]):
        better = probs[k] > best
        out[better] = k
        np.maximum(best, probs[k], out=best)
    return out


def check_label_classes(
    label: np.ndarray, meta: ModelMeta, source: str, valid: np.ndarray | None = None
) -> None:
    """Refuse labels (where ``valid``) holding a class value the model does not know."""
    known = label != IGNORE if valid is None else valid & (label != IGNORE)
    unknown = label[known & (meta.label_lut()[label] == IGNORE)]
    if unknown.size:
        classes = ", ".join(
            f"{v} ({n})" for v, n in zip(meta.values, meta.class_names, strict=True)
        )
        raise InvalidInputError(
            f"{source} has class {int(unknown.max())}, but the model knows only the classes "
            f"{classes}",
            "--labels",
        )
