"""`geonoise tile` through the command line: outputs, summary, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely import box

from tests.conftest import CRS, LANDSAT, ORIGIN, one_line_error
from tests.conftest import run_cli as run


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.fixture
def scene_and_labels(scene_factory, tmp_path):
    scene = scene_factory(width=96, height=64)
    labels = scene_factory(
        "labels.tif", width=96, height=64, count=1, data=np.ones((1, 64, 96), "uint8")
    )
    return scene, labels


def test_tile_writes_images_labels_index_and_reports(scene_and_labels, tmp_path):
    scene, labels = scene_and_labels
    out = tmp_path / "tiles"
    result = run("tile", scene, "--labels", labels, "-o", out, "--size", 32, "--overlap", 8)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "tiles written" in result.stderr
    assert entries(out) == ["images", "labels", "tiles.gpkg"]
    index = gpd.read_file(out / "tiles.gpkg", layer="tiles")
    assert len(index) == len(list((out / "labels").iterdir())) == 4 * 3  # stride 24
    assert index.crs == CRS


def test_json_summary_on_stdout(scene_and_labels, tmp_path):
    scene, labels = scene_and_labels
    result = run("-q", "tile", scene, "-l", labels, "-o", tmp_path / "t", "--size", 64, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tiles_written"] == 2 and summary["tiles_skipped"] == 0
    assert summary["scenes"][0]["windows"] == 2


def test_quiet_prints_only_the_output_path(scene_and_labels, tmp_path):
    scene, _ = scene_and_labels
    result = run("-q", "tile", scene, "-o", tmp_path / "t", "--size", 64)
    assert result.exit_code == 0 and result.stderr == ""


def test_overwrite_is_required_to_replace(scene_and_labels, tmp_path):
    scene, labels = scene_and_labels
    out = tmp_path / "tiles"
    assert run("tile", scene, "-o", out, "--size", 64).exit_code == 0
    before = entries(out)
    refused = run("tile", scene, "-l", labels, "-o", out, "--size", 32)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == f"Error: {out} exists; pass --overwrite to replace it"
    assert entries(out) == before
    replaced = run("tile", scene, "-l", labels, "-o", out, "--size", 32, "--overwrite")
    assert replaced.exit_code == 0 and entries(out) == ["images", "labels", "tiles.gpkg"]


def test_scene_without_crs(scene_factory, tmp_path):
    bare = scene_factory("bare.tif", crs=None)
    one_line_error(run("tile", bare, "-o", tmp_path / "o"), 1, "bare.tif has no CRS")
    assert entries(tmp_path) == ["bare.tif"]


def test_labels_that_do_not_overlap(scene_factory, tmp_path):
    scene = scene_factory()
    far = scene_factory("far.tif", count=1, origin=(100.0, 100.0))
    one_line_error(
        run("tile", scene, "-l", far, "-o", tmp_path / "o"), 1, "far.tif does not overlap"
    )
    assert "o" not in entries(tmp_path)


def test_missing_class_field(scene_factory, tmp_path):
    scene = scene_factory()
    vector = tmp_path / "b.gpkg"
    gpd.GeoDataFrame(
        {"kind": [1]}, geometry=[box(*ORIGIN, ORIGIN[0] + 9, ORIGIN[1] - 9)], crs=CRS
    ).to_file(vector)
    one_line_error(
        run("tile", scene, "-l", vector, "--class-field", "cls", "-o", tmp_path / "o"),
        2,
        "--class-field",
        "no field 'cls'",
        "kind",
    )
    assert "o" not in entries(tmp_path)


def test_unreadable_and_truncated_files(scene_factory, tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"this is not a tiff")
    one_line_error(run("tile", junk, "-o", tmp_path / "o"), 1, "cannot open", "junk.tif")
    scene = scene_factory(width=256, height=256)
    scene.write_bytes(scene.read_bytes()[:40_000])
    one_line_error(
        run("tile", scene, "-o", tmp_path / "o", "--size", 64), 1, "scene.tif", "IReadBlock failed"
    )
    assert "o" not in entries(tmp_path)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--size", "9000"], "--size"),
        (["--size", "8"], "--size"),
        (["--size", "32", "--overlap", "32"], "--overlap"),
        (["--min-valid", "1.5"], "--min-valid"),
        (["--co", "COMPRESS"], "KEY=VALUE"),
    ],
)
def test_bad_option_values_exit_2(scene_factory, tmp_path, args, fragment):
    scene = scene_factory()
    result = run("tile", scene, "-o", tmp_path / "o", *args)
    assert result.exit_code == 2 and fragment in result.stderr
    assert "o" not in entries(tmp_path)


def test_missing_scene_exits_2(tmp_path):
    result = run("tile", tmp_path / "nope.tif", "-o", tmp_path / "o")
    assert result.exit_code == 2 and "nope.tif" in result.stderr


def test_real_landsat_scene_six_bands(tmp_path):
    """The bundled Landsat 7 subset (6 bands, EPSG:31985) tiles with its grid intact."""
    landsat = LANDSAT
    out = tmp_path / "tiles"
    assert run("tile", landsat, "-o", out, "--size", 128, "--overlap", 16).exit_code == 0
    index = gpd.read_file(out / "tiles.gpkg", layer="tiles")
    assert index.crs.to_epsg() == 31985 and len(index) == 9
    with rasterio.open(landsat) as src, rasterio.open(out / index.image.iloc[-1]) as t:
        window = rasterio.windows.Window(
            *index.iloc[-1][["col_off", "row_off", "width", "height"]].tolist()
        )
        assert t.count == 6 and t.transform == src.window_transform(window)
        np.testing.assert_array_equal(t.read(), src.read(window=window))


@pytest.mark.parametrize(("args", "expected"), [(["--jobs", "3"], 3), ([], "cpus")])
def test_jobs_reach_the_tiler(scene_and_labels, tmp_path, monkeypatch, args, expected):
    import os

    import geonoise.data.tiling

    seen = {}
    real = geonoise.data.tiling.write_tiles

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)

    monkeypatch.setattr(geonoise.data.tiling, "write_tiles", spy)
    scene, _ = scene_and_labels
    assert run("-q", "tile", scene, "-o", tmp_path / "t", "--size", 32, *args).exit_code == 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert seen["jobs"] == (cpus if expected == "cpus" else expected)


@pytest.mark.parametrize(
    ("co", "fragment"),
    [
        ("COMPRESS=BOGUS", "COMPRESS=BOGUS"),
        ("FOO=BAR", "creation option FOO"),
        ("BLOCKXSIZE=7", "BLOCKXSIZE=7"),
        ("PREDICTOR=3", "PREDICTOR=3"),
    ],
)
def test_creation_options_gdal_refuses_exit_2_naming_them(scene_factory, tmp_path, co, fragment):
    scene = scene_factory()
    result = run("tile", scene, "-o", tmp_path / "o", "--co", co)
    assert result.exit_code == 2, result.output
    assert "--co" in result.stderr and fragment in result.stderr
    assert "Error: unexpected" not in result.stderr and "o" not in entries(tmp_path)


def test_output_under_a_regular_file_exits_2(scene_factory, tmp_path):
    scene = scene_factory()
    (tmp_path / "somefile.txt").write_text("")
    result = run("tile", scene, "-o", tmp_path / "somefile.txt" / "out", "--size", 32)
    one_line_error(result, 2, "somefile.txt/out", "is a file, not a folder")


def test_a_full_disk_fails_with_one_line_and_leaves_nothing(scene_factory, tmp_path, monkeypatch):
    import errno
    import os

    import geonoise.io.vectors

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(geonoise.io.vectors, "_write_vector", full)
    scene = scene_factory()
    out = tmp_path / "tiles"
    result = run("tile", scene, "-o", out, "--size", 32, "--jobs", 1)
    one_line_error(result, 1, f"cannot write {out}", "no space left on device")
    assert "partial" not in result.stderr and "tiles" not in entries(tmp_path)


def test_int8_labels_with_negative_values_name_the_value(scene_factory, tmp_path):
    scene = scene_factory(width=64, height=48)
    data = np.ones((1, 48, 64), "int8")
    data[0, 5, 7] = -3
    labels = scene_factory("labels.tif", width=64, height=48, data=data)
    result = run("tile", scene, "-l", labels, "-o", tmp_path / "o", "--size", 32)
    one_line_error(result, 2, "--labels", "labels.tif has class value -3 at row 5, column 7")
    data[0, 5, 7] = -1  # declared nodata: ignored
    nodata = scene_factory("nodata.tif", width=64, height=48, data=data, nodata=-1)
    result = run("tile", scene, "-l", nodata, "-o", tmp_path / "o", "--size", 32)
    assert result.exit_code == 0, result.output


def test_nan_geotransform_is_refused_naming_the_file(scene_factory, tmp_path):
    from affine import Affine

    scene = scene_factory()
    with rasterio.open(scene, "r+") as dst:
        dst.transform = Affine(float("nan"), 0, ORIGIN[0], 0, -0.5, ORIGIN[1])
    one_line_error(run("tile", scene, "-o", tmp_path / "o"), 1, "scene.tif", "geotransform")


LOCAL_CRS = (
    'LOCAL_CS["Site grid",LOCAL_DATUM["Site",0],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'
)


def test_an_engineering_crs_tiles_and_is_refused_beside_another_crs(scene_factory, tmp_path):
    local = scene_factory("local.tif", crs=LOCAL_CRS)
    labels = scene_factory(
        "local_labels.tif", count=1, crs=LOCAL_CRS, data=np.ones((1, 80, 100), "uint8")
    )
    assert run("tile", local, "-l", labels, "-o", tmp_path / "t", "--size", 32).exit_code == 0
    utm = scene_factory("utm.tif")
    one_line_error(
        run("tile", utm, "-l", labels, "-o", tmp_path / "o"), 1, "local_labels.tif", "Site grid"
    )
    one_line_error(
        run("tile", utm, local, "-o", tmp_path / "o"), 1, "cannot reproject", "local.tif"
    )
    assert "o" not in entries(tmp_path)


def test_gdal_style_co_and_verbosity_after_the_command(scene_and_labels, tmp_path):
    """GDAL habits: ``-co NAME=VALUE`` with one dash, ``-q`` after the command name."""
    scene, labels = scene_and_labels
    out = tmp_path / "t"
    result = run("tile", scene, "-l", labels, "-o", out, "--size", 64, "-co", "COMPRESS=LZW", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout.strip() == str(out)
    with rasterio.open(next((out / "images").iterdir())) as tile:
        assert tile.compression.name == "lzw"
