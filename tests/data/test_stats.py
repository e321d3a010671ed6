"""Band statistics over the valid training pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geonoise.data.datasets import TileDataset
from geonoise.data.stats import BandStats, compute_band_stats
from geonoise.errors import InvalidInputError


def test_band_stats_equal_numpy_over_the_valid_pixels(tiles):
    dataset = TileDataset(tiles)
    images = np.stack([dataset[i]["image"].numpy() for i in range(len(dataset))])
    valid = np.stack([dataset[i]["mask"].numpy() != 255 for i in range(len(dataset))])
    pixels = images.transpose(1, 0, 2, 3)[:, valid].astype("float64")
    stats = compute_band_stats(dataset)
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(stats.std, pixels.std(axis=1), rtol=1e-10)
    assert BandStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


def test_band_stats_are_stable_for_large_means_and_floor_constant_bands():
    class Tiles:
        def __init__(self):
            rng = np.random.default_rng(0)
            self.images = [
                np.stack([1e4 + rng.normal(0, 0.01, (16, 16)), np.full((16, 16), 3.0)])
                for _ in range(6)
            ]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            mask = torch.zeros(16, 16, dtype=torch.int64)
            mask[:4] = 255
            return {"image": torch.from_numpy(self.images[i]), "mask": mask}

    data = Tiles()
    pixels = np.stack([im[:, 4:] for im in data.images], axis=1).reshape(2, -1)
    stats = compute_band_stats(data)
    np.testing.assert_allclose(stats.std[0], pixels[0].std(), rtol=1e-6)
    assert stats.mean[1] == 3.0 and stats.std[1] == pytest.approx(1e-6)
    assert compute_band_stats(data, max_samples=2).mean[1] == 3.0


def test_band_stats_without_valid_pixels_is_an_error():
    sample = {"image": torch.ones(2, 4, 4), "mask": torch.full((4, 4), 255)}
    with pytest.raises(InvalidInputError, match="no valid pixel"):
        compute_band_stats([sample])
    with pytest.raises(InvalidInputError, match="one mean and one std"):
        BandStats([1.0, 2.0], [1.0])
