"""Blending: overlapping windows are mixed by their raised-cosine weights, strip by strip."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geonoise.detection.blending import blended_strips
from geonoise.detection.options import DetectOptions
from geonoise.windows import blend_weights
from tests.conftest import PixelModel, write_scene


class WindowModel(PixelModel):
    """Building probability constant over each window: its top-left pixel's band 1 / 255.

    Neighbouring windows then disagree over their overlap, so the blend there shows
    how the two are weighted (a model that agrees with itself everywhere cannot).
    """

    def predict(self, image: np.ndarray) -> np.ndarray:
        building = np.broadcast_to(image[:, 0, :1, :1] / 255.0, image[:, 0].shape)
        return np.stack([1 - building, building], axis=1).astype(np.float32)


def test_blend_weights_ramp_as_a_raised_cosine_whose_overlaps_sum_to_one():
    weights = blend_weights(16, 4)
    ramp = np.sin(0.5 * np.pi * (np.arange(4) + 0.5) / 4) ** 2
    np.testing.assert_allclose(weights[8, :4], ramp, rtol=1e-6)
    np.testing.assert_allclose(weights[8, -4:], ramp[::-1], rtol=1e-6)
    assert (weights[8, 4:12] == 1).all() and weights.min() > 0
    np.testing.assert_allclose(weights, weights.T)  # the same ramp down the rows
    # where two windows overlap, the falling ramp of one meets the rising ramp of the other
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, rtol=1e-6)
    assert (blend_weights(16, 0) == 1).all()


@pytest.mark.parametrize("batch_size", [1, 2])
def test_overlapping_windows_are_mixed_by_their_cosine_weights(tmp_path, batch_size):
    # 28 × 20 pixels, windows of 16 overlapping by 4: columns 0-15 and 12-27, rows 0-15 and 4-19.
    data = np.zeros((3, 20, 28), np.uint8)
    corners = {(0, 0): 40, (0, 12): 200, (4, 0): 120, (4, 12): 80}
    for (row, col), value in corners.items():
        data[0, row, col] = value
    scene = write_scene(tmp_path / "scene.tif", 28, 20, data=data)
    options = DetectOptions(window=16, overlap=4, batch_size=batch_size, tta=False)
    with rasterio.open(scene) as dataset:
        strips = [
            (s.top, s.probabilities()[1].copy(), s.valid.copy())
            for s in blended_strips(dataset, WindowModel(), 16, options)
        ]
    assert [top for top, _, _ in strips] == [0, 4]  # rows 0-3 are final once row 4 starts
    building = np.concatenate([p for _, p, _ in strips])
    assert building.shape == (20, 28) and all(v.all() for _, _, v in strips)

    weights = blend_weights(16, 4)
    expected_sum = np.zeros((20, 28))
    weight_sum = np.zeros((20, 28))
    for (row, col), value in corners.items():
        expected_sum[row : row + 16, col : col + 16] += weights * value / 255
        weight_sum[row : row + 16, col : col + 16] += weights
    np.testing.assert_allclose(building, expected_sum / weight_sum, atol=1e-6)
    # By hand, on row 2 (one window row): column 12, the first of the overlap, is almost
    # all the left window's (0.962 of it); flat weights would give the plain mean.
    ramp = np.sin(0.5 * np.pi * (np.arange(4) + 0.5) / 4) ** 2
    left, right = 40 / 255, 200 / 255
    np.testing.assert_allclose(building[2, 12:16], ramp[::-1] * left + ramp * right, atol=1e-6)
    assert abs(building[2, 12] - (left + right) / 2) > 0.2
    np.testing.assert_allclose(building[2, :12], left, atol=1e-6)  # one window: its own value
    np.testing.assert_allclose(building[2, 16:], right, atol=1e-6)
