"""The shared GeoTIFF profile and the COG writer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from geonoise import io
from geonoise.errors import GeoreferenceError, InvalidInputError, ReadError
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


@pytest.mark.parametrize(
    ("given", "fragments"),
    [
        ({"COMPRESS": "BOGUS"}, ["COMPRESS=BOGUS", "not a valid value"]),
        ({"FOO": "BAR"}, ["FOO=BAR", "does not support creation option FOO"]),
        ({"BLOCKXSIZE": "7"}, ["BLOCKXSIZE=7", "multiples of 16"]),
        ({"BLOCKXSIZE": "abc"}, ["BLOCKXSIZE=abc", "type int"]),
        ({"PREDICTOR": "3"}, ["PREDICTOR=3", "Float32"]),
        ({"COMPRESS": "ZSTD", "ZSTD_LEVEL": "99"}, ["ZSTD_LEVEL=99"]),
    ],
)
def test_creation_options_gdal_would_ignore_or_fail_on_are_refused(given, fragments):
    with pytest.raises(InvalidInputError) as refused:
        io.check_creation_options(given)
    assert refused.value.option == "--co" and refused.value.exit_code == 2
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_valid_creation_options_pass_with_upper_case_names():
    given = {"compress": "LZW", "BLOCKXSIZE": "512", "BLOCKYSIZE": "512", "BIGTIFF": "YES"}
    assert io.check_creation_options(given) == {k.upper(): v for k, v in given.items()}
    assert io.check_creation_options({"TILED": "NO", "BLOCKYSIZE": "7"})  # strips: any height


def test_gtiff_creation_options_reach_the_cog_under_its_names(tmp_path):
    assert io.cog_options({"TILED": "YES", "BLOCKXSIZE": "256", "ZSTD_LEVEL": "9"}) == {
        "BLOCKSIZE": "256",
        "LEVEL": "9",
    }
    data = np.random.default_rng(0).random((1, 600, 600)).astype("float32")
    source = write_scene(tmp_path / "plain.tif", 600, 600, count=1, dtype="float32", data=data)
    io.write_cog(source, tmp_path / "cog.tif", creation_options={"BLOCKXSIZE": "256"})
    with rasterio.open(tmp_path / "cog.tif") as cog:
        assert cog.block_shapes[0] == (256, 256)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_geotransform_is_a_georeference_error(tmp_path, bad):
    path = write_scene(tmp_path / "scene.tif", 32, 32)
    with rasterio.open(path, "r+") as dst:
        dst.transform = Affine(0.5, 0, bad, 0, -0.5, 5_400_000)
    with pytest.raises(GeoreferenceError, match=r"scene\.tif has an unusable geotransform"):
        io.open_scene(path)


def test_padding_a_window_with_a_value_its_type_cannot_hold_widens_it(tmp_path):
    data = np.array([[[-3, 1], [0, 2]]], "int8")
    path = write_scene(tmp_path / "int8.tif", 2, 2, data=data)
    with rasterio.open(path) as src:
        out = io.read_window(src, Window(-1, 0, 3, 2), indexes=1, fill_value=255)
    np.testing.assert_array_equal(out, [[255, -3, 1], [255, 0, 2]])


def test_a_header_claiming_blocks_of_gigabytes_is_refused_before_reading(tmp_path):
    from tests.io.test_input_fuzz import tiff_size

    path = write_scene(tmp_path / "scene.tif", 64, 48)  # strips: a block is a row band
    path.write_bytes(tiff_size(2**31 - 1, 1)(path.read_bytes()))
    with pytest.raises(ReadError, match=r"scene\.tif is stored in blocks of 2147483647 × 1"):
        io.open_scene(path)
