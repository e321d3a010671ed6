"""Pixel metrics: the noise score of every pixel against the truth mask.

The noise map and the truth are read block by block and each evaluated pixel's
score is tallied, per truth class, into a histogram of equal bins on [0, 1]
(:class:`ScoreHistogram`), so memory stays at one block whatever the scene's
size. :func:`pixel_metrics` turns the histogram into average precision, AUROC,
the best F1 with its threshold, and the scores at one operating threshold,
following scikit-learn's conventions for ties (see :mod:`geonoise.evaluation`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.errors import GeonoiseError, GeoreferenceError
from geonoise.evaluation.options import DEFAULT_BINS, DEFAULT_OPTIONS, EvaluateOptions
from geonoise.windows import block_grid

if TYPE_CHECKING:
    import rasterio
    import rasterio.windows


class EvaluationError(GeonoiseError):
    """Inputs that cannot be scored: no evaluated pixel, no noisy pixel, scores outside [0, 1]."""


class ScoreHistogram:
    """Scores of noisy and clean pixels, tallied in equal bins on [0, 1].

    Also keeps the smallest score in each bin (the exact threshold that bin
    stands for) and the exact counts at one operating ``threshold``.
    """

    def __init__(self, bins: int = DEFAULT_BINS, threshold: float = 0.5) -> None:
        self.bins = bins
        self.threshold = threshold
        self.noisy = np.zeros(bins, np.int64)
        self.clean = np.zeros(bins, np.int64)
        self.minima = np.full(bins, np.inf)
        self.flagged_noisy = 0
        self.flagged_clean = 0

    def add(self, score: np.ndarray, noisy: np.ndarray) -> None:
        """Tally evaluated pixels: ``score`` in [0, 1] and the truth ``noisy`` (bool), 1-D."""
        score = score.astype(np.float64, copy=False)
        index = np.minimum((score * self.bins).astype(np.int64), self.bins - 1)
        self.noisy += np.bincount(index[noisy], minlength=self.bins)
        self.clean += np.bincount(index[~noisy], minlength=self.bins)
        np.minimum.at(self.minima, index, score)
        flagged = score >= self.threshold
        self.flagged_noisy += int(np.count_nonzero(flagged & noisy))
        self.flagged_clean += int(np.count_nonzero(flagged & ~noisy))


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall at each distinct threshold, from the highest score down."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


@dataclass(frozen=True)
class PixelMetrics:
    """Pixel-level scores of a noise map (see :mod:`geonoise.evaluation`).

    ``auroc`` is None where the truth has no clean pixel; ``precision`` is None
    where no pixel reaches ``threshold``.
    """

    evaluated: int
    noisy: int
    base_rate: float
    average_precision: float
    auroc: float | None
    best_f1: float
    best_threshold: float
    best_precision: float
    best_recall: float
    threshold: float
    precision: float | None
    recall: float
    f1: float
    iou: float
    bins: int
    curve: PRCurve = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, int | float | None]:
        """Plain values for ``--json`` (without the curve)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "curve"}


def pixel_metrics(histogram: ScoreHistogram) -> PixelMetrics:
    """AP, AUROC, best F1 and the operating-point scores of a filled histogram.

    Raises:
        EvaluationError: No pixel was tallied, or none of them is noisy.
    """
    positives, negatives = int(histogram.noisy.sum()), int(histogram.clean.sum())
    if positives == 0:
        raise EvaluationError(
            "no evaluated pixel is noisy in the truth, so precision and recall are undefined"
        )
    occupied, tp, fp = _ranked_counts(histogram)
    precision = tp / (tp + fp)
    recall = tp / positives
    f1 = 2 * tp / (tp + fp + positives)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold reaching it
    at_precision, at_recall, at_f1, at_iou = _at_threshold(histogram, positives)
    return PixelMetrics(
        evaluated=positives + negatives,
        noisy=positives,
        base_rate=positives / (positives + negatives),
        average_precision=float(np.sum(np.diff(recall, prepend=0.0) * precision)),
        auroc=_auroc(recall, fp, negatives),
        best_f1=float(f1[best]),
        best_threshold=float(histogram.minima[occupied[best]]),
        best_precision=float(precision[best]),
        best_recall=float(recall[best]),
        threshold=histogram.threshold,
        precision=at_precision,
        recall=at_recall,
        f1=at_f1,
        iou=at_iou,
        bins=histogram.bins,
        curve=PRCurve(histogram.minima[occupied], precision, recall),
    )


def _ranked_counts(histogram: ScoreHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupied bins from the highest score down, with cumulative true and false positives.

    Entry ``n`` counts the pixels flagged when the threshold is bin ``n``'s score.
    """
    occupied = np.flatnonzero(histogram.noisy + histogram.clean)[::-1]  # high scores first
    return occupied, np.cumsum(histogram.noisy[occupied]), np.cumsum(histogram.clean[occupied])


def _auroc(recall: np.ndarray, fp: np.ndarray, negatives: int) -> float | None:
    """Area under the ROC curve by the trapezoidal rule; None without clean pixels."""
    if not negatives:
        return None
    tpr, fpr = np.r_[0.0, recall], np.r_[0, fp] / negatives
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _at_threshold(
    histogram: ScoreHistogram, positives: int
) -> tuple[float | None, float, float, float]:
    """Precision (None if nothing is flagged), recall, F1 and IoU at the operating threshold.

    Counted exactly while tallying, not from the bins, so a threshold inside a
    bin is honoured.
    """
    flagged_tp = histogram.flagged_noisy
    flagged = histogram.flagged_noisy + histogram.flagged_clean
    return (
        flagged_tp / flagged if flagged else None,
        flagged_tp / positives,
        2 * flagged_tp / (flagged + positives),
        flagged_tp / (flagged + positives - flagged_tp),
    )


def check_histogram(
    histogram: ScoreHistogram, noise_path: str | os.PathLike, truth_path: str | os.PathLike
) -> None:
    """Refuse a histogram that :func:`pixel_metrics` cannot score, naming the two files.

    Raises:
        EvaluationError: No pixel has both a score and a truth value, or none
            of them is noisy in the truth.
    """
    if not histogram.noisy.any() and not histogram.clean.any():
        raise EvaluationError(
            f"no pixel has both a score in {noise_path} and a truth value in {truth_path} "
            "(everything is nodata or 255 in one of them)"
        )
    if not histogram.noisy.any():
        raise EvaluationError(
            f"{truth_path} marks no evaluated pixel as noisy (nonzero), so precision and "
            "recall are undefined; pass the truth of a scene with label noise"
        )


def check_same_grid(noise: rasterio.io.DatasetReader, truth: rasterio.io.DatasetReader) -> None:
    """Refuse a truth raster that is not on the noise map's grid (CRS, transform, size)."""
    if not io.same_grid(truth, noise):
        raise GeoreferenceError(
            f"{truth.name} is not on the grid of {noise.name} (truth: {_grid(truth)}; noise map: "
            f"{_grid(noise)}); pass the truth of the scene the noise map was made from"
        )


def _grid(dataset: rasterio.io.DatasetReader) -> str:
    """Size, CRS, origin and pixel size of a raster, for messages."""
    t = dataset.transform
    size = f"{dataset.width}×{dataset.height} px"
    return f"{size}, {dataset.crs}, origin ({t.c:.12g}, {t.f:.12g}), pixel {t.a:.12g}×{t.e:.12g}"


def read_pair(
    noise: rasterio.io.DatasetReader,
    truth: rasterio.io.DatasetReader,
    window: rasterio.windows.Window,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and truth (bool) of the pixels of ``window`` that both rasters know, 1-D.

    A pixel is known where the noise map has a finite, valid score and the
    truth a valid value other than 255; the window may reach past the rasters.

    Raises:
        EvaluationError: A known score lies outside [0, 1].
    """
    score = io.read_window(noise, window, indexes=1)  # padding outside is masked invalid
    known = io.read_valid_mask(noise, window, data=score) & np.isfinite(score)
    mark = io.read_window(truth, window, indexes=1, fill_value=IGNORE)
    known &= io.read_valid_mask(truth, window, data=mark) & (mark != IGNORE)
    score = score[known]
    _check_range(score, noise.name)
    return score, mark[known] != 0


def _check_range(score: np.ndarray, name: str) -> None:
    """Refuse known scores outside [0, 1]: most likely an undeclared nodata value."""
    if score.size and (score.min() < 0 or score.max() > 1):
        bad = score[(score < 0) | (score > 1)][0]
        raise EvaluationError(
            f"{name} has a score of {bad:g} (not nodata, outside [0, 1]); evaluate "
            "expects scores in [0, 1] — set the map's nodata if that value marks no data, "
            f"e.g. `gdal_edit.py -a_nodata {bad:g} {name}`"
        )


def scan_pixels(
    noise: rasterio.io.DatasetReader,
    truth: rasterio.io.DatasetReader,
    options: EvaluateOptions = DEFAULT_OPTIONS,
    on_window: Callable[[int, int], None] | None = None,
) -> ScoreHistogram:
    """Tally every pixel both rasters know, block by block (memory: one block).

    Args:
        noise: The noise map (band 1: scores in [0, 1]).
        truth: The truth mask, on the noise map's grid (see :func:`check_same_grid`).
        options: ``bins`` and ``threshold`` of the histogram, ``window_size`` of the blocks.
        on_window: Called with (blocks done, blocks in all) after each block.
    """
    histogram = ScoreHistogram(options.bins, options.threshold)
    grid = block_grid(noise.width, noise.height, options.window_size)
    for done, block in enumerate(grid, start=1):
        histogram.add(*read_pair(noise, truth, block.to_rasterio()))
        if on_window is not None:
            on_window(done, len(grid))
    return histogram
