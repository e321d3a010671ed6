"""`geonoise vectorize` through the command line: outputs, formats, summary, errors, exit codes."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner

from geonoise.cli import vectorize as vectorize_module
from geonoise.cli.main import GeonoiseGroup, cli
from geonoise.io import read_vector
from geonoise.io.styles import embedded_style
from tests.conftest import CRS, one_line_error, write_scene
from tests.vectorize.conftest import known_scene, write_classes, write_noise


def group() -> click.Group:
    """The geonoise group; with `vectorize` added where main.py does not register it yet."""
    if cli.commands.get("vectorize") is vectorize_module.vectorize:
        return cli
    return GeonoiseGroup(
        name="geonoise",
        params=cli.params,
        callback=cli.callback,
        commands={"vectorize": vectorize_module.vectorize},
    )


def run(*args):
    return CliRunner().invoke(group(), [str(a) for a in args])


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.fixture
def noise(tmp_path) -> Path:
    score, label, predicted = known_scene()
    write_classes(tmp_path / "noise.classes.tif", label, predicted)
    return write_noise(tmp_path / "noise.tif", score)


def test_writes_a_styled_geopackage_layer_and_reports(noise, tmp_path):
    out = tmp_path / "polygons.gpkg"
    result = run("vectorize", noise, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "4 polygons, 70.0 m²" in result.stderr and "2 boundary" in result.stderr
    assert pyogrio.list_layers(out)[:, 0].tolist() == ["noise", "layer_styles"]
    gdf = gpd.read_file(out, layer="noise")
    assert gdf.crs == CRS
    assert list(gdf.columns) == [
        "id",
        "area",
        "pixels",
        "mean_score",
        "max_score",
        "label_class",
        "predicted_class",
        "kind",
        "geometry",
    ]
    assert list(gdf["kind"]) == ["missing", "spurious", "boundary", "boundary"]
    style = ET.fromstring(embedded_style(out, "noise"))  # QGIS's default style for the layer
    assert style.find("renderer-v2").get("attr") == "kind"
    assert not (tmp_path / "polygons.qml").exists()
    assert not [name for name in entries(tmp_path) if name.startswith(".")]


def test_json_summary_on_stdout(noise, tmp_path):
    out = tmp_path / "p.fgb"
    result = run("-q", "vectorize", noise, "-o", out, "--json", "--min-area", 20)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["count"] == 2 and summary["total_area"] == 50.0
    assert summary["by_kind"] == {"missing": 1, "spurious": 1}
    assert summary["classes"].endswith("noise.classes.tif") and summary["area_unit"] == "m2"
    assert summary["style"] == str(tmp_path / "p.qml")


def test_quiet_prints_only_the_output_path(noise, tmp_path):
    result = run("-q", "vectorize", noise, "-o", tmp_path / "p.gpkg")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == f"{tmp_path / 'p.gpkg'}\n"


SUFFIXES = [".gpkg", ".geojson", ".fgb", ".shp", ".parquet"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_format_writes_and_reads_back_in_the_scene_crs(noise, tmp_path, suffix):
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("GeoParquet needs pyarrow")
    out = tmp_path / "out" / f"polygons{suffix}"
    result = run("vectorize", noise, "-o", out, "--simplify", 0.5, "--fill-holes", 1)
    assert result.exit_code == 0, result.output
    gdf = gpd.read_parquet(out) if suffix == ".parquet" else read_vector(out)
    gdf = gdf.sort_values("id")  # FlatGeobuf stores features in spatial-index order
    if suffix == ".geojson":  # RFC 7946: WGS84 lon/lat
        assert gdf.crs == "EPSG:4326"
        gdf = gdf.to_crs(CRS)
    assert gdf.crs == CRS and len(gdf) == 4
    assert gdf.geometry.is_valid.all()
    np.testing.assert_allclose(sorted(gdf["area"]), [10, 10, 25, 25])
    np.testing.assert_allclose(sorted(gdf.area), [10, 10, 25, 25], atol=0.1)  # 1e-7° in GeoJSON
    assert (tmp_path / "out" / "polygons.qml").exists() == (suffix != ".gpkg")
    names = ["label_cls", "pred_cls"] if suffix == ".shp" else ["label_class", "predicted_class"]
    assert gdf[names[0]].tolist() == [0, 1, 1, 0] and gdf[names[1]].tolist() == [1, 0, 0, 1]


def test_parquet_without_pyarrow_is_a_usage_error(noise, tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    result = run("vectorize", noise, "-o", tmp_path / "p.parquet")
    one_line_error(result, 2, "--output", "pyarrow")


def test_explicit_classes_and_no_classes(tmp_path):
    score, label, predicted = known_scene()
    noise = write_noise(tmp_path / "scores.tif", score)
    plain = run("-q", "vectorize", noise, "-o", tmp_path / "a.gpkg", "--json")
    assert json.loads(plain.stdout)["by_kind"] == {"unknown": 4}
    classes = write_classes(tmp_path / "classes.tif", label, predicted)
    named = run("-q", "vectorize", noise, "-o", tmp_path / "b.gpkg", "--classes", classes, "--json")
    assert json.loads(named.stdout)["by_kind"] == {"missing": 1, "spurious": 1, "boundary": 2}


def test_empty_result_is_an_error_that_names_the_threshold_and_writes_nothing(noise, tmp_path):
    before = entries(tmp_path)
    result = run("vectorize", noise, "-o", tmp_path / "p.gpkg", "--threshold", 1)
    assert result.exit_code == 0  # the one pixel at 1.0
    result = run("vectorize", noise, "-o", tmp_path / "q.gpkg", "--min-area", 1000)
    one_line_error(result, 1, "--min-area 1000", "nothing written")
    flat = write_noise(tmp_path / "flat.tif", np.full((20, 20), 0.2, "float32"))
    result = run("vectorize", flat, "-o", tmp_path / "r.gpkg", "--threshold", 0.5)
    one_line_error(result, 1, "flat.tif", "0.5 (--threshold)")
    assert entries(tmp_path) == sorted([*before, "flat.tif", "p.gpkg"])


def test_overwrite_is_required_to_replace(noise, tmp_path):
    out = tmp_path / "p.gpkg"
    assert run("vectorize", noise, "-o", out).exit_code == 0
    stamp = out.read_bytes()
    refused = run("vectorize", noise, "-o", out, "--threshold", 0.75)
    one_line_error(refused, 1, f"{out} exists; pass --overwrite")
    assert out.read_bytes() == stamp
    replaced = run("vectorize", noise, "-o", out, "--threshold", 0.75, "--overwrite")
    assert replaced.exit_code == 0
    assert len(gpd.read_file(out, layer="noise")) == 2


def test_a_foreign_style_is_not_overwritten(noise, tmp_path):
    (tmp_path / "p.qml").write_text("mine")
    result = run("vectorize", noise, "-o", tmp_path / "p.fgb")
    one_line_error(result, 1, "p.qml exists; pass --overwrite")
    assert not (tmp_path / "p.fgb").exists()
    inside = run("vectorize", noise, "-o", tmp_path / "p.gpkg")  # its style goes inside
    assert inside.exit_code == 0 and (tmp_path / "p.qml").read_text() == "mine"


def test_the_noise_maps_own_style_is_kept(noise, tmp_path):
    (tmp_path / "noise.qml").write_text("raster style")
    result = run("vectorize", noise, "-o", tmp_path / "noise.fgb", "--json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "noise.qml").read_text() == "raster style"
    assert json.loads(result.stdout)["style"] is None


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--threshold", "1.5"),
        ("--threshold", "x"),
        ("--min-area", "-1"),
        ("--fill-holes", "-2"),
        ("--simplify", "-0.1"),
        ("--boundary-width", "0"),
        ("--window-size", "8"),
    ],
)
def test_bad_option_values_are_usage_errors(noise, tmp_path, option, value):
    result = run("vectorize", noise, "-o", tmp_path / "p.gpkg", option, value)
    assert result.exit_code == 2, result.output
    assert option in result.stderr
    assert not (tmp_path / "p.gpkg").exists()


def test_unknown_output_suffix_is_a_usage_error(noise, tmp_path):
    result = run("vectorize", noise, "-o", tmp_path / "p.txt")
    one_line_error(result, 2, "--output", "unknown vector suffix")


def test_missing_input_is_a_usage_error(tmp_path):
    result = run("vectorize", tmp_path / "nope.tif", "-o", tmp_path / "p.gpkg")
    assert result.exit_code == 2 and "nope.tif" in result.stderr


def test_not_georeferenced_is_a_runtime_error(tmp_path):
    bare = write_scene(tmp_path / "bare.tif", 20, 20, count=1, dtype="float32", crs=None)
    result = run("vectorize", bare, "-o", tmp_path / "p.gpkg")
    one_line_error(result, 1, "bare.tif has no CRS")
    not_raster = tmp_path / "notes.tif"
    not_raster.write_text("hello")
    result = run("vectorize", not_raster, "-o", tmp_path / "p.gpkg")
    one_line_error(result, 1, "cannot open", "notes.tif")


def test_classes_on_another_grid_is_a_runtime_error(noise, tmp_path):
    _, label, predicted = known_scene()
    other = write_classes(tmp_path / "other.tif", label[:30], predicted[:30])
    result = run("vectorize", noise, "-o", tmp_path / "p.gpkg", "--classes", other)
    one_line_error(result, 1, "other.tif is not on the grid")
    assert not (tmp_path / "p.gpkg").exists()


def test_help_has_an_example():
    result = run("vectorize", "--help")
    assert result.exit_code == 0 and "geonoise vectorize noise.tif -o" in result.output


def test_the_bar_counts_blocks_against_their_total_from_the_start(noise, tmp_path):
    result = run("vectorize", noise, "-o", tmp_path / "p.gpkg", "--window-size", 64)
    assert result.exit_code == 0, result.output
    assert "0/1 " in result.stderr and "block" in result.stderr and "0window" not in result.stderr


def test_json_names_the_crs_of_the_layer_as_written(noise, tmp_path):
    geojson = run("-q", "vectorize", noise, "-o", tmp_path / "p.geojson", "--json")
    gpkg = run("-q", "vectorize", noise, "-o", tmp_path / "p.gpkg", "--json")
    assert json.loads(geojson.stdout)["crs"] == "EPSG:4326"
    assert json.loads(gpkg.stdout)["crs"] == CRS
