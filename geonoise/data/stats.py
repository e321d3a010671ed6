"""Per-band statistics of the training pixels, for normalisation (stored in every model file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError

#: Floor of a band's standard deviation, so normalising a constant band stays finite.
STD_FLOOR = 1e-6


#: Percentiles of each band's valid pixels that bound its values before normalisation.
CLIP_PERCENTILES = (2.0, 98.0)

#: Pixels per band sampled (evenly over the tiles) to find the clip percentiles.
PERCENTILE_SAMPLE = 1_000_000


@dataclass
class BandStats:
    """Per-band normalisation of raw pixel values: clip to ``[low, high]``, then standardise.

    ``low``/``high`` are robust bounds (percentiles of the valid pixels), so a few
    saturated or nodata-like values do not stretch the scale; ``mean``/``std`` are
    those of the clipped values. None bounds: no clipping (model files before 0.2).
    """

    mean: list[float]
    std: list[float]
    low: list[float] | None = None
    high: list[float] | None = None

    def __post_init__(self) -> None:
        sizes = {len(self.mean), len(self.std)}
        sizes |= {len(b) for b in (self.low, self.high) if b is not None}
        if len(sizes) != 1 or not self.mean:
            raise InvalidInputError(
                f"band statistics need one mean, std (and bound) per band, got "
                f"{len(self.mean)} means and {len(self.std)} stds"
            )

    def to_dict(self) -> dict[str, list[float] | None]:
        """Plain lists, for checkpoints and JSON."""

        def plain(values: list[float] | None) -> list[float] | None:
            return None if values is None else [float(v) for v in values]

        return {
            "mean": plain(self.mean),
            "std": plain(self.std),
            "low": plain(self.low),
            "high": plain(self.high),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float] | None]) -> BandStats:
        """The inverse of :meth:`to_dict`."""
        try:
            bounds = {k: [float(v) for v in data[k]] for k in ("low", "high") if data.get(k)}
            return cls([float(m) for m in data["mean"]], [float(s) for s in data["std"]], **bounds)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"band statistics need 'mean' and 'std' lists: {exc}") from exc


def compute_band_stats(
    dataset: Dataset,
    max_samples: int | None = None,
    clip: tuple[float, float] | None = CLIP_PERCENTILES,
) -> BandStats:
    """Robust normalisation of each band from the valid pixels of the training samples.

    A pixel counts where its label is not 255 and its value is finite (images
    carry NaN where the scene has no data, see :class:`~geonoise.data.datasets.PairDataset`).
    The ``clip`` percentiles come from an even sample of those pixels; the mean
    and standard deviation are then those of the clipped values, streamed over
    the samples with per-tile float64 moments (Chan et al.'s parallel update), so
    they stay accurate where the mean is large against the spread (16-bit data).

    Args:
        dataset: Samples with ``image`` (C, H, W) and ``mask`` (H, W).
        max_samples: Use at most this many samples, evenly spread over the data set.
        clip: Lower and upper percentiles (0-100) that bound each band; None: no clipping.

    Raises:
        InvalidInputError: no sample has a valid pixel.
    """
    total = len(dataset)
    picks = [int(i) for i in range(total)]
    if max_samples is not None and max_samples < total:
        picks = np.unique(np.linspace(0, total - 1, max(max_samples, 1)).round().astype(int))
        picks = [int(i) for i in picks]
    low = high = None
    if clip is not None:
        low, high = _percentiles(dataset, picks, clip)
    moments = _Moments()
    for i in picks:
        for band, values in enumerate(_valid_pixels(dataset[i])):
            if low is not None:
                values = np.clip(values, low[band], high[band])
            moments.add(band, values)
    if not moments.count.any():
        raise InvalidInputError("no valid pixel (label ≠ 255) in the tiles; check the labels")
    mean, std = moments.mean_std()
    bounds = (None, None) if low is None else (low.tolist(), high.tolist())
    return BandStats(mean.tolist(), std.tolist(), *bounds)


def _valid_pixels(sample: dict) -> list[np.ndarray]:
    """Each band's valid pixel values (label ≠ 255, finite) as float64."""
    labelled = (sample["mask"] != IGNORE).numpy()
    image = sample["image"].numpy()
    out = []
    for band in image:
        values = band[labelled]
        out.append(values[np.isfinite(values)].astype(np.float64))
    return out


def _percentiles(
    dataset: Dataset, picks: list[int], clip: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Each band's ``clip`` percentiles over an even sample of the valid pixels."""
    rng = np.random.default_rng(0)
    per_tile = max(1, PERCENTILE_SAMPLE // max(len(picks), 1))
    samples: list[list[np.ndarray]] = []
    for i in picks:
        bands = _valid_pixels(dataset[i])
        samples.append([_subsample(v, per_tile, rng) for v in bands])
    bands = len(samples[0]) if samples else 0
    low, high = np.zeros(bands), np.zeros(bands)
    for band in range(bands):
        values = np.concatenate([s[band] for s in samples])
        if values.size:
            low[band], high[band] = np.percentile(values, clip)
    return low, high


def _subsample(values: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if values.size <= size:
        return values
    return values[rng.choice(values.size, size, replace=False)]


class _Moments:
    """Per-band count, mean and sum of squared deviations, merged tile by tile."""

    def __init__(self) -> None:
        self.count = np.zeros(0, np.int64)
        self.mean = np.zeros(0)
        self.m2 = np.zeros(0)

    def add(self, band: int, values: np.ndarray) -> None:
        if band >= len(self.count):
            grow = band + 1 - len(self.count)
            self.count = np.concatenate([self.count, np.zeros(grow, np.int64)])
            self.mean = np.concatenate([self.mean, np.zeros(grow)])
            self.m2 = np.concatenate([self.m2, np.zeros(grow)])
        n = values.size
        if n == 0:
            return
        tile_mean = values.mean()
        tile_m2 = ((values - tile_mean) ** 2).sum()
        count = self.count[band]
        merged = count + n
        delta = tile_mean - self.mean[band]
        self.mean[band] += delta * (n / merged)
        self.m2[band] += tile_m2 + delta**2 * (count * n / merged)
        self.count[band] = merged

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        std = np.sqrt(self.m2 / np.maximum(self.count, 1))
        return self.mean, np.maximum(std, STD_FLOOR)


def label_counts(dataset: Dataset) -> np.ndarray:
    """Pixels of each label value (256 counts; 255, ignore, set to 0) in the samples' masks."""
    counts = np.zeros(256, np.int64)
    for i in range(len(dataset)):
        counts += np.bincount(dataset[i]["mask"].numpy().ravel(), minlength=256)[:256]
    counts[IGNORE] = 0
    return counts


def shares(counts: np.ndarray) -> dict[int, float]:
    """Share of the labelled pixels of each label value present in ``counts``."""
    total = counts.sum()
    return {int(v): float(counts[v] / total) for v in np.flatnonzero(counts)} if total else {}
