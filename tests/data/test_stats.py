"""Band statistics over the valid training pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geonoise.data.datasets import TileDataset
from geonoise.data.stats import BandStats, compute_band_stats
from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from geonoise.errors import InvalidInputError
from geonoise.models.normalise import BandNormaliser
from tests.conftest import write_scene


def test_band_stats_equal_numpy_over_the_valid_pixels(tiles):
    dataset = TileDataset(tiles)
    images = np.stack([dataset[i]["image"].numpy() for i in range(len(dataset))])
    valid = np.stack([dataset[i]["mask"].numpy() != 255 for i in range(len(dataset))])
    pixels = images.transpose(1, 0, 2, 3)[:, valid].astype("float64")
    stats = compute_band_stats(dataset, clip=None)
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(stats.std, pixels.std(axis=1), rtol=1e-10)
    assert stats.low is None and stats.high is None
    assert BandStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    robust = compute_band_stats(dataset)  # every pixel is in the percentile sample here
    low, high = np.percentile(pixels, [2, 98], axis=1)
    np.testing.assert_allclose(robust.low, low) and np.testing.assert_allclose(robust.high, high)
    clipped = np.clip(pixels, low[:, None], high[:, None])
    np.testing.assert_allclose(robust.mean, clipped.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(robust.std, clipped.std(axis=1), rtol=1e-10)
    assert BandStats.from_dict(json.loads(json.dumps(robust.to_dict()))) == robust


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
    stats = compute_band_stats(data, clip=None)
    np.testing.assert_allclose(stats.std[0], pixels[0].std(), rtol=1e-6)
    assert stats.mean[1] == 3.0 and stats.std[1] == pytest.approx(1e-6)
    robust = compute_band_stats(data)  # a constant band clips to itself: finite, mean 3
    assert robust.low[1] == robust.high[1] == robust.mean[1] == 3.0
    assert compute_band_stats(data, max_samples=2).mean[1] == 3.0


def test_band_stats_without_valid_pixels_is_an_error():
    sample = {"image": torch.ones(2, 4, 4), "mask": torch.full((4, 4), 255)}
    with pytest.raises(InvalidInputError, match="no valid pixel"):
        compute_band_stats([sample])
    with pytest.raises(InvalidInputError, match="one mean, std"):
        BandStats([1.0, 2.0], [1.0])
    with pytest.raises(InvalidInputError, match="one mean, std"):
        BandStats([1.0, 2.0], [1.0, 1.0], low=[0.0], high=[2.0, 3.0])


def tile_scene(tmp_path, data, nodata=None):
    """Tiles (32 px) of a scene holding ``data``, labelled 0/1 where it has data."""
    _, height, width = data.shape
    scene = write_scene(tmp_path / "scene.tif", width, height, data=data, nodata=nodata)
    label = (np.arange(width)[None, :] % 3 == 0).astype("uint8").repeat(height, 0)[None]
    labels = write_scene(tmp_path / "labels.tif", width, height, data=label)
    opts = TileOptions(size=32, min_valid=0.2)
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "tiles", opts)
    return TileDataset(tmp_path / "tiles", cache=True)


def test_uint16_single_band_stats_ignore_the_saturated_few(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(8000, 500, (1, 64, 64)).astype("uint16")
    data[0, :2, :20] = 65535  # saturated glints, 1 % of the pixels
    stats = compute_band_stats(tile_scene(tmp_path, data))
    valid = data[0].astype(float)
    assert stats.high[0] < 10_000 and stats.low[0] > 6_000
    assert stats.std[0] == pytest.approx(np.clip(valid, stats.low[0], stats.high[0]).std(), 0.05)
    assert stats.std[0] < 600  # the glints would more than double it unclipped
    (tmp_path / "plain").mkdir()
    assert compute_band_stats(tile_scene(tmp_path / "plain", data), clip=None).std[0] > 4000


def test_float32_nodata_and_nan_are_no_pixels_and_normalise_to_zero(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal([[[0.05]], [[0.1]], [[0.3]]], 0.02, (3, 64, 64)).astype("float32")
    data[:, 40:, :] = -99999.0  # no data
    data[1, 5, 5] = np.nan  # one band without a value
    dataset = tile_scene(tmp_path, data, nodata=-99999.0)
    stats = compute_band_stats(dataset)
    valid = np.isfinite(data).all(axis=0) & (data != -99999).all(axis=0)
    for band in range(3):
        assert stats.low[band] > -1 and stats.mean[band] == pytest.approx(
            data[band][valid].mean(), abs=0.01
        )
    bottom = next(i for i in range(len(dataset)) if dataset.index.row_off[i] == 32)
    sample = dataset[bottom]
    assert np.isnan(sample["image"].numpy()[:, 8:, :]).all()  # rows 40.. of the scene
    assert np.isfinite(sample["image"].numpy()[:, :8, :]).all()
    normalise = BandNormaliser(stats.mean, stats.std, stats.low, stats.high)
    x = normalise(sample["image"][None])
    assert torch.isfinite(x).all() and (x[0, :, 8:, :] == 0).all()
