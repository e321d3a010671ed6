"""vectorize() on open datasets: suspect pixels, empty results, the class companion's grid."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geonoise.errors import GeoreferenceError, ReadError
from geonoise.vectorize.polygonize import EmptyResultError, vectorize
from tests.conftest import write_scene
from tests.vectorize.conftest import PIXEL_AREA, SIZE, known_scene, run, write_classes, write_noise


def test_nodata_and_nan_are_never_suspect(known):
    gdf = run(known[0], threshold=0.0)
    assert len(gdf) == 1
    assert gdf["pixels"][0] == SIZE * SIZE - 25 - 1
    np.testing.assert_allclose(gdf["area"][0], (SIZE * SIZE - 25 - 1) * PIXEL_AREA)


def test_no_pixel_above_the_threshold_is_an_error_naming_it(tmp_path):
    noise = write_noise(tmp_path / "low.tif", np.full((40, 40), 0.3, "float32"))
    with pytest.raises(
        EmptyResultError, match=r"low.tif: no pixel .* at least 0.5 \(--threshold\)"
    ):
        run(noise, window_size=16)


def test_classes_on_another_grid_are_refused(tmp_path, known):
    _, label, predicted = known_scene()
    other = write_classes(tmp_path / "other.tif", label, predicted, origin=(400_000.0, 5e6))
    with pytest.raises(GeoreferenceError, match="not on the grid"):
        run(known[0], other)
    one_band = write_scene(tmp_path / "one.tif", SIZE, SIZE, count=1)
    with pytest.raises(ReadError, match="2"):
        run(known[0], one_band)


def test_memory_file_datasets_need_no_file(known):
    with rasterio.open(known[0]) as noise:
        assert len(vectorize(noise)) == 4
