"""The shared GeoTIFF profile and the COG writer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio

from geonoise import io
from tests.conftest import write_scene


def test_float_rasters_get_zstd_with_the_floating_point_predictor():
    profile = io.geotiff_profile(
        width=300, height=300, count=1, dtype="float32", crs="EPSG:32633", transform=None
    )
    assert (profile["compress"], profile["predictor"], profile["zstd_level"]) == ("zstd", 3, 1)
    labels = io.geotiff_profile(
        width=300, height=300, count=1, dtype="uint8", crs="EPSG:32633", transform=None
    )
    assert (labels["compress"], labels["predictor"]) == ("deflate", 2)
    assert "zstd_level" not in labels


def test_a_users_compress_option_replaces_ours_with_its_level():
    profile = io.geotiff_profile(
        width=300,
        height=300,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=None,
        creation_options={"COMPRESS": "LZW"},
    )
    assert profile["compress"] == "LZW" and "zstd_level" not in profile
    assert profile["predictor"] == 3


@pytest.mark.parametrize(
    ("creation_options", "codec"), [(None, "zstd"), ({"COMPRESS": "DEFLATE"}, "deflate")]
)
def test_write_cog_tiles_compresses_and_builds_overviews(tmp_path, creation_options, codec):
    rng = np.random.default_rng(0)
    data = rng.random((1, 1100, 1300)).astype("float32")
    source = write_scene(tmp_path / "plain.tif", 1300, 1100, count=1, dtype="float32", data=data)
    target = tmp_path / "cog.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a creation option GDAL ignores
        io.write_cog(source, target, creation_options=creation_options)
    with rasterio.open(target) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.compression.name.lower() == codec
        assert cog.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"
        assert cog.block_shapes[0] == (512, 512)
        assert cog.overviews(1) == [2, 4]
        np.testing.assert_array_equal(cog.read(), data)
