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


@dataclass
class BandStats:
    """Per-band mean and standard deviation of raw pixel values, for normalisation."""

    mean: list[float]
    std: list[float]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise InvalidInputError(
                f"band statistics need one mean and one std per band, got "
                f"{len(self.mean)} means and {len(self.std)} stds"
            )

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for checkpoints and JSON."""
        return {"mean": [float(m) for m in self.mean], "std": [float(s) for s in self.std]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> BandStats:
        """The inverse of :meth:`to_dict`."""
        try:
            return cls([float(m) for m in data["mean"]], [float(s) for s in data["std"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"band statistics need 'mean' and 'std' lists: {exc}") from exc


def compute_band_stats(dataset: Dataset, max_samples: int | None = None) -> BandStats:
    """Mean and standard deviation of each band over the valid pixels (mask ≠ 255).

    Streams over the samples, merging per-tile float64 moments (Chan et al.'s
    parallel update), so it holds one tile at a time and stays accurate where
    the mean is large against the spread (e.g. 16-bit reflectances).

    Args:
        dataset: Samples with ``image`` (C, H, W) and ``mask`` (H, W).
        max_samples: Use at most this many samples, evenly spread over the data set.

    Raises:
        InvalidInputError: no sample has a valid pixel.
    """
    total = len(dataset)
    picks = range(total)
    if max_samples is not None and max_samples < total:
        picks = np.unique(np.linspace(0, total - 1, max(max_samples, 1)).round().astype(int))
    count, mean, m2 = 0, None, None
    for i in picks:
        sample = dataset[int(i)]
        valid = (sample["mask"] != IGNORE).numpy()
        pixels = sample["image"].numpy()[:, valid].astype(np.float64)
        n = pixels.shape[1]
        if n == 0:
            continue
        tile_mean = pixels.mean(axis=1)
        tile_m2 = ((pixels - tile_mean[:, None]) ** 2).sum(axis=1)
        if mean is None:
            count, mean, m2 = n, tile_mean, tile_m2
            continue
        delta = tile_mean - mean
        merged = count + n
        mean = mean + delta * (n / merged)
        m2 = m2 + tile_m2 + delta**2 * (count * n / merged)
        count = merged
    if mean is None:
        raise InvalidInputError("no valid pixel (label ≠ 255) in the tiles; check the labels")
    std = np.maximum(np.sqrt(m2 / count), STD_FLOOR)
    return BandStats(mean.tolist(), std.tolist())
