"""Tiling as a library: georeferencing, pixels, coverage and label reconciliation."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely import box

from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from geonoise.errors import (
    GeonoiseError,
    GeoreferenceError,
    InvalidInputError,
    NoOverlapError,
    OutputExistsError,
)
from tests.conftest import CRS, ORIGIN, RES, write_scene


def tile(scenes, labels=(), output=None, **options):
    opts = TileOptions(**options)
    plans = plan_tiling([str(s) for s in scenes], [str(x) for x in labels], opts)
    return write_tiles(plans, output, opts)


def read_index(out: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(out / "tiles.gpkg", layer="tiles")


def test_every_tile_carries_the_scene_window_georeference_and_pixels(scene_factory, tmp_path):
    scene = scene_factory(width=150, height=110, count=4, dtype="uint16")
    out = tmp_path / "tiles"
    summary = tile([scene], output=out, size=64, overlap=8)
    index = read_index(out)
    assert summary.written == len(index) == 6  # columns 0, 56, 86; rows 0, 46
    with rasterio.open(scene) as src:
        for row in index.itertuples():
            window = Window(row.col_off, row.row_off, row.width, row.height)
            with rasterio.open(out / row.image) as t:
                assert t.crs == src.crs
                assert t.transform == src.window_transform(window)
                assert (t.count, t.dtypes[0], t.width) == (4, "uint16", 64)
                np.testing.assert_array_equal(t.read(), src.read(window=window))
            assert row.geometry.equals(box(*src.window_bounds(window)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(5, 90),
    height=st.integers(5, 90),
    size=st.sampled_from([16, 24, 32]),
    overlap_share=st.floats(0, 0.9),
    nodata_rows=st.integers(0, 20),
)
def test_tiles_cover_every_valid_scene_pixel(width, height, size, overlap_share, nodata_rows):
    overlap = int(size * overlap_share)
    with tempfile.TemporaryDirectory() as tmp:
        data = np.random.default_rng(width * height).integers(1, 255, (1, height, width), "uint8")
        data[:, : min(nodata_rows, height)] = 0  # a nodata band across the top
        scene = write_scene(Path(tmp) / "s.tif", width, height, data=data, nodata=0)
        valid = data[0] != 0
        try:
            tile([scene], output=Path(tmp) / "out", size=size, overlap=overlap, min_valid=0)
        except GeonoiseError:
            assert not valid.any()  # only a scene without valid pixels writes no tile
            return
        covered = np.zeros_like(valid)
        with rasterio.open(scene) as src:
            for row in read_index(Path(tmp) / "out").itertuples():
                with rasterio.open(Path(tmp) / "out" / row.image) as t:
                    col, r = ~src.transform @ (t.transform.c, t.transform.f)
                    c0, r0 = round(col), round(r)
                    pixels = t.read(1)[: height - r0, : width - c0]
                    np.testing.assert_array_equal(
                        pixels, data[0, r0 : r0 + pixels.shape[0], c0 : c0 + pixels.shape[1]]
                    )
                    covered[r0 : r0 + size, c0 : c0 + size] = True
        assert covered[valid].all()


def test_small_scene_is_padded_with_nodata_and_ignore(scene_factory, tmp_path):
    scene = scene_factory(width=20, height=12, count=1, nodata=0)
    labels = scene_factory(
        "labels.tif", width=20, height=12, count=1, data=np.ones((1, 12, 20), "uint8")
    )
    out = tmp_path / "tiles"
    tile([scene], [labels], output=out, size=32, min_valid=0.1)
    [row] = read_index(out).itertuples()
    with rasterio.open(out / row.image) as img, rasterio.open(out / row.label) as lab:
        assert img.shape == (32, 32) and img.nodata == 0 and lab.nodata == 255
        assert (img.read(1)[12:, :] == 0).all() and (img.read(1)[:, 20:] == 0).all()
        assert (lab.read(1)[:12, :20] == 1).all()
        assert (lab.read(1)[12:] == 255).all() and (lab.read(1)[:, 20:] == 255).all()
    assert row.valid_fraction == pytest.approx(12 * 20 / 32**2)


def test_scene_nodata_becomes_ignore_and_sparse_tiles_are_skipped(scene_factory, tmp_path):
    data = np.full((1, 64, 64), 7, "uint8")
    data[:, :, :40] = 0  # left tiles mostly nodata
    scene = scene_factory(width=64, height=64, data=data, nodata=0)
    labels = scene_factory("labels.tif", width=64, height=64, data=np.ones((1, 64, 64), "uint8"))
    out = tmp_path / "tiles"
    summary = tile([scene], [labels], output=out, size=32, min_valid=0.5)
    index = read_index(out)
    assert summary.written == 2 and summary.skipped == 2
    assert summary.scenes[0]["skipped"] == {"below --min-valid": 2}
    assert set(index.col_off) == {32}
    with rasterio.open(out / index.label.iloc[0]) as lab:
        values = lab.read(1)
    np.testing.assert_array_equal(values[:, :8], 255)
    np.testing.assert_array_equal(values[:, 8:], 1)
    assert index.valid_fraction.iloc[0] == pytest.approx(24 / 32)
    assert index.frac_1.iloc[0] == 1.0


def test_vector_labels_in_another_crs_land_on_the_right_pixels(scene_factory, tmp_path):
    scene = scene_factory(width=60, height=40)
    # Building covering pixel columns 10..29 and rows 5..14 (edges on pixel borders).
    left, top = ORIGIN[0] + 10 * RES, ORIGIN[1] - 5 * RES
    footprint = box(left, top - 10 * RES, left + 20 * RES, top)
    gdf = gpd.GeoDataFrame({"code": [3]}, geometry=[footprint], crs=CRS).to_crs("EPSG:4326")
    vector = tmp_path / "buildings.geojson"
    gdf.to_file(vector)
    out = tmp_path / "tiles"
    tile([scene], [vector], output=out, size=64, class_field="code", min_valid=0)
    [row] = read_index(out).itertuples()
    with rasterio.open(out / row.label) as lab:
        values = lab.read(1)
    expected = np.full((64, 64), 255, "uint8")
    expected[:40, :60] = 0
    expected[5:15, 10:30] = 3
    np.testing.assert_array_equal(values, expected)
    assert row.frac_3 == pytest.approx(200 / 2400)


def test_vector_labels_burn_one_without_class_field_and_all_touched_widens(scene_factory, tmp_path):
    scene = scene_factory(width=32, height=32)
    # A thin sliver across pixel row 3 that covers no pixel centre.
    sliver = box(ORIGIN[0], ORIGIN[1] - 3.2 * RES, ORIGIN[0] + 32 * RES, ORIGIN[1] - 3.4 * RES)
    vector = tmp_path / "sliver.gpkg"
    gpd.GeoDataFrame(geometry=[sliver], crs=CRS).to_file(vector)
    for all_touched, expected in ((False, 0), (True, 32)):
        out = tmp_path / f"tiles{all_touched}"
        tile([scene], [vector], output=out, size=32, all_touched=all_touched)
        with rasterio.open(out / read_index(out).label.iloc[0]) as lab:
            assert (lab.read(1) == 1).sum() == expected


def test_label_raster_on_another_grid_needs_resampling(scene_factory, tmp_path):
    scene = scene_factory(width=40, height=40)
    fine = np.zeros((1, 80, 80), "uint8")
    fine[:, 20:60, 40:80] = 2  # scene rows 10..29, columns 20..39 at half the pixel size
    labels = scene_factory("fine.tif", width=80, height=80, data=fine, res=RES / 2)
    with pytest.raises(GeoreferenceError, match="--resample-labels"):
        plan_tiling([str(scene)], [str(labels)], TileOptions(size=32))
    out = tmp_path / "tiles"
    tile([scene], [labels], output=out, size=40, resample_labels=True)
    with rasterio.open(out / read_index(out).label.iloc[0]) as lab:
        values = lab.read(1)
    expected = np.zeros((40, 40), "uint8")
    expected[10:30, 20:40] = 2
    np.testing.assert_array_equal(values, expected)


def test_aligned_label_raster_with_an_offset_is_read_without_resampling(scene_factory, tmp_path):
    scene = scene_factory(width=40, height=40)
    part = np.arange(20 * 30, dtype="uint8").reshape(1, 20, 30) % 5
    # A label raster covering scene columns 10..39 and rows 20..39 only.
    labels = scene_factory(
        "part.tif",
        width=30,
        height=20,
        data=part,
        origin=(ORIGIN[0] + 10 * RES, ORIGIN[1] - 20 * RES),
    )
    out = tmp_path / "tiles"
    tile([scene], [labels], output=out, size=40, min_valid=0)
    with rasterio.open(out / read_index(out).label.iloc[0]) as lab:
        values = lab.read(1)
    np.testing.assert_array_equal(values[20:, 10:], part[0])
    assert (values[:20] == 255).all() and (values[:, :10] == 255).all()


def test_many_scenes_in_one_call_share_one_index(scene_factory, tmp_path):
    a = scene_factory("a.tif", width=64, height=32)
    other = tmp_path / "other"
    other.mkdir()
    b = write_scene(other / "a.tif", 32, 32, crs="EPSG:32632", origin=(300_000, 5_000_000))
    out = tmp_path / "tiles"
    summary = tile([a, b], output=out, size=32)
    index = read_index(out)
    assert summary.written == 3
    assert sorted(set(index.tile_id.str.split("_r").str[0])) == ["a-1", "a-2"]
    assert index.crs == CRS and set(index.crs_name if "crs_name" in index else index["crs"]) == {
        "EPSG:32633",
        "EPSG:32632",
    }
    assert all((out / p).exists() for p in index.image)
    assert index.scene.iloc[0] == "../a.tif"


def test_plan_errors(scene_factory, tmp_path):
    scene = scene_factory()
    far = scene_factory("far.tif", origin=(0.0, 0.0), count=1)
    with pytest.raises(NoOverlapError, match="does not overlap"):
        plan_tiling([str(scene)], [str(far)], TileOptions())
    bare = scene_factory("bare.tif", crs=None)
    with pytest.raises(GeoreferenceError, match="no CRS"):
        plan_tiling([str(bare)], [], TileOptions())
    no_transform = tmp_path / "no_transform.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(
            no_transform, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8", crs=CRS
        ) as dst:
            dst.write(np.ones((1, 8, 8), "uint8"))
    with pytest.raises(GeoreferenceError, match="no geotransform"):
        plan_tiling([str(no_transform)], [], TileOptions())
    vector = tmp_path / "v.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["a"]}, geometry=[box(*ORIGIN, ORIGIN[0] + 5, ORIGIN[1] - 5)], crs=CRS
    ).to_file(vector)
    with pytest.raises(InvalidInputError, match=r"no field .cls..*kind"):
        plan_tiling([str(scene)], [str(vector)], TileOptions(class_field="cls"))
    with pytest.raises(InvalidInputError, match="whole class ids"):
        plan_tiling([str(scene)], [str(vector)], TileOptions(class_field="kind"))
    with pytest.raises(InvalidInputError, match="label sources"):
        plan_tiling([str(scene)] * 3, [str(scene)] * 2, TileOptions())
    with pytest.raises(InvalidInputError, match="--size"):
        TileOptions(size=10_000)


def test_existing_output_is_kept_unless_overwrite(scene_factory, tmp_path):
    scene = scene_factory()
    out = tmp_path / "tiles"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    opts = TileOptions(size=32)
    plans = plan_tiling([str(scene)], [], opts)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_tiles(plans, out, opts)
    assert (out / "precious.txt").read_text() == "keep me"
    write_tiles(plans, out, opts, overwrite=True)
    assert not (out / "precious.txt").exists() and (out / "tiles.gpkg").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["scene.tif", "tiles"] or sorted(
        p.name for p in tmp_path.iterdir()
    ) == ["scene.tif", "tiles"]


def test_creation_options_reach_the_tiles(scene_factory, tmp_path):
    scene = scene_factory(width=64, height=64)
    out = tmp_path / "tiles"
    tile([scene], output=out, size=64, creation_options={"COMPRESS": "LZW"})
    with rasterio.open(out / read_index(out).image.iloc[0]) as t:
        assert t.compression.name == "lzw"
        assert t.block_shapes[0] == (64, 64)


def test_read_failure_midway_leaves_nothing(scene_factory, tmp_path):
    scene = scene_factory(width=256, height=256)
    data = scene.read_bytes()
    scene.write_bytes(data[: len(data) // 2])  # truncated: header intact, pixels missing
    out = tmp_path / "tiles"
    opts = TileOptions(size=64)
    with pytest.raises(GeonoiseError, match=r"scene\.tif"):
        write_tiles(plan_tiling([str(scene)], [], opts), out, opts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]


def test_label_values_out_of_range_are_refused(scene_factory, tmp_path):
    scene = scene_factory(width=32, height=32)
    wide = np.full((1, 32, 32), 300, "uint16")
    labels = scene_factory("wide.tif", width=32, height=32, data=wide)
    opts = TileOptions(size=32)
    with pytest.raises(InvalidInputError, match="class value 300"):
        write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "o", opts)


@pytest.mark.parametrize("nodata", [-99999.0, float("nan")])
def test_float_labels_holding_whole_class_ids_are_read_as_classes(scene_factory, tmp_path, nodata):
    """Classified rasters stored as float32 (as many GIS tools write them) tile like integers."""
    scene = scene_factory(width=32, height=32)
    classes = np.tile(np.arange(1, 9, dtype="float32"), (32, 4))[None]  # classes 1..8
    classes[0, :4, :] = nodata
    classes[0, 4, :3] = np.nan  # NaN is no label whatever the nodata
    labels = scene_factory("lc.tif", width=32, height=32, data=classes, nodata=nodata)
    opts = TileOptions(size=32)
    out = tmp_path / "tiles"
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), out, opts)
    with rasterio.open(next((out / "labels").iterdir())) as tile_labels:
        got = tile_labels.read(1)
    expected = np.where(np.isnan(classes[0]) | (classes[0] == nodata), 255, classes[0])
    np.testing.assert_array_equal(got, expected.astype("uint8"))


def test_float_labels_with_a_fraction_name_the_first_one_and_where(scene_factory, tmp_path):
    scene = scene_factory(width=32, height=32)
    classes = np.ones((1, 32, 32), "float32")
    classes[0, 7, 5] = 2.5
    classes[0, 9, 1] = 0.25
    labels = scene_factory("lc.tif", width=32, height=32, data=classes)
    opts = TileOptions(size=32)
    with pytest.raises(InvalidInputError, match=r"class value 2\.5 at row 7, column 5 \(x "):
        write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "o", opts)
    assert not (tmp_path / "o").exists()


def test_transform_of_tiles_matches_from_origin(scene_factory, tmp_path):
    scene = scene_factory(width=48, height=48)
    out = tmp_path / "tiles"
    tile([scene], output=out, size=32)
    index = read_index(out)
    row = index[(index.col_off == 16) & (index.row_off == 16)].iloc[0]
    with rasterio.open(out / row.image) as t:
        assert t.transform == from_origin(ORIGIN[0] + 16 * RES, ORIGIN[1] - 16 * RES, RES, RES)


def test_parallel_tiling_equals_serial(scene_factory, tmp_path):
    scene = scene_factory(width=200, height=150)
    labels = scene_factory(
        "labels.tif",
        width=200,
        height=150,
        count=1,
        data=(np.arange(200 * 150).reshape(1, 150, 200) % 3).astype("uint8"),
    )
    opts = TileOptions(size=32, overlap=4)
    plans = plan_tiling([str(scene)], [str(labels)], opts)
    serial = write_tiles(plans, tmp_path / "serial", opts, jobs=1)
    parallel = write_tiles(plans, tmp_path / "parallel", opts, jobs=2)
    assert serial.to_dict()["tiles_written"] == parallel.to_dict()["tiles_written"] == 42
    a, b = read_index(tmp_path / "serial"), read_index(tmp_path / "parallel")
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    for row in a.itertuples():
        for path in (row.image, row.label):
            with (
                rasterio.open(tmp_path / "serial" / path) as x,
                rasterio.open(tmp_path / "parallel" / path) as y,
            ):
                np.testing.assert_array_equal(x.read(), y.read())


def test_parallel_failure_leaves_nothing(scene_factory, tmp_path):
    scene = scene_factory(width=256, height=256)
    scene.write_bytes(scene.read_bytes()[:60_000])
    opts = TileOptions(size=32)
    with pytest.raises(GeonoiseError, match="IReadBlock"):
        write_tiles(plan_tiling([str(scene)], [], opts), tmp_path / "o", opts, jobs=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]
