"""`geonoise synth` through click: files, georeferencing, overwrite, exit codes, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.features import rasterize

from geonoise.cli.main import cli
from geonoise.io import read_vector

SMALL = ["--size", "160", "128", "--seed", "5"]
FILES = (
    "scene.tif",
    "labels_clean.tif",
    "labels_clean.gpkg",
    "labels_noisy.tif",
    "labels_noisy.gpkg",
    "noise_truth.tif",
    "noise_objects.gpkg",
    "synth.json",
    "labels_clean.qml",
    "labels_noisy.qml",
    "noise_truth.qml",
)


def run(*args: str):
    return CliRunner().invoke(cli, ["synth", *args])


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("synth") / "scene"
    result = run("-o", str(out), *SMALL, "--origin", "610000", "4200000", "--crs", "EPSG:32633")
    assert result.exit_code == 0, result.output
    return out, result


def test_writes_every_file_and_prints_the_directory(written):
    out, result = written
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert result.stdout.strip() == str(out)
    assert "changed" in result.stderr  # the human summary goes to stderr


def test_rasters_are_georeferenced(written):
    out, _ = written
    expected = rasterio.Affine(0.5, 0, 610000, 0, -0.5, 4200000)
    for name, count, nodata in (
        ("scene.tif", 3, None),
        ("labels_clean.tif", 1, 255),
        ("labels_noisy.tif", 1, 255),
        ("noise_truth.tif", 1, None),
    ):
        with rasterio.open(out / name) as ds:
            assert ds.crs == CRS.from_epsg(32633) and ds.transform == expected
            assert (ds.width, ds.height, ds.count) == (160, 128, count)
            assert ds.dtypes[0] == "uint8" and ds.nodata == nodata
    with rasterio.open(out / "scene.tif") as ds:
        assert ds.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        assert ds.descriptions == ("red", "green", "blue")


def test_vector_labels_match_raster_labels(written):
    out, _ = written
    labels = read_vector(out / "labels_clean.gpkg", layer="labels")
    assert {"object_id", "class", "class_name"} <= set(labels.columns)
    assert labels.crs == CRS.from_epsg(32633)
    with rasterio.open(out / "labels_clean.tif") as ds:
        burnt = rasterize(
            zip(labels.geometry, labels["class"], strict=True),
            out_shape=(ds.height, ds.width),
            transform=ds.transform,
            dtype="uint8",
        )
        np.testing.assert_array_equal(burnt, ds.read(1))


def test_truth_and_noise_table(written):
    out, _ = written
    with rasterio.open(out / "labels_clean.tif") as c, rasterio.open(out / "labels_noisy.tif") as n:
        differs = c.read(1) != n.read(1)
    with rasterio.open(out / "noise_truth.tif") as t:
        np.testing.assert_array_equal(t.read(1), differs)
    table = read_vector(out / "noise_objects.gpkg")
    assert {"object_id", "kind", "dx", "dy", "distance", "changed_pixels"} <= set(table.columns)
    meta = json.loads((out / "synth.json").read_text())
    assert len(table) == meta["summary"]["objects_changed"]


def test_synth_json_regenerates_the_same_files(written, tmp_path):
    out, _ = written
    meta = json.loads((out / "synth.json").read_text())
    assert meta["geonoise_version"] and meta["parameters"]["seed"] == 5
    args = meta["command"].split()
    assert args[:2] == ["geonoise", "synth"]
    again = tmp_path / "again"
    args[args.index("-o") + 1] = str(again)
    assert run(*args[2:]).exit_code == 0
    for name in (n for n in FILES if n != "synth.json"):  # synth.json names its folder
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run("-o", str(out), *SMALL)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = run("-o", str(out), *SMALL, "--overwrite", "--noise-rate", "0")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "scene.tif").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--noise-rate", "1.5"], "--noise-rate"),
        (["--noise-kinds", "missing,wobble"], "wobble"),
        (["--noise-kinds", "flip"], "--classes landcover"),
        (["--style", "lunar"], "--style"),
        (["--classes", "roads"], "--classes"),
        (["--size", "8", "8"], "--size"),
        (["--resolution", "0"], "--resolution"),
        (["--crs", "EPSG:4326"], "not projected"),
        (["--crs", "nonsense"], "--crs"),
        (["--co", "COMPRESS"], "KEY=VALUE"),
    ],
)
def test_bad_option_values_exit_2(tmp_path, args, message):
    result = run("-o", str(tmp_path / "out"), *SMALL, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_json_summary(tmp_path):
    out = tmp_path / "lc"
    result = run(
        "-o",
        str(out),
        *SMALL,
        "--classes",
        "landcover",
        "--noise-rate",
        "0.5",
        "--noise-kinds",
        "flip,shift",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["output"] == str(out)
    assert set(summary["noise_by_kind"]) == {"flip", "shift"}
    assert summary["objects_changed"] == sum(summary["noise_by_kind"].values()) > 0
    assert 0 < summary["noisy_pixel_fraction"] < 1
    assert all(Path(p).exists() for p in summary["files"].values())


def test_creation_options_apply_to_the_scene_only(tmp_path):
    out = tmp_path / "jpeg"
    result = run("-o", str(out), *SMALL, "--co", "COMPRESS=JPEG", "--co", "PHOTOMETRIC=YCBCR")
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "scene.tif") as ds:
        assert ds.compression.name == "jpeg"
    for name in ("labels_clean.tif", "labels_noisy.tif", "noise_truth.tif"):
        with rasterio.open(out / name) as ds:
            assert ds.compression.name == "deflate"


def test_quiet_prints_only_the_path(tmp_path):
    out = tmp_path / "q"
    result = CliRunner().invoke(cli, ["-q", "synth", "-o", str(out), *SMALL])
    assert result.exit_code == 0 and result.stdout.strip() == str(out) and not result.stderr


def test_help_has_an_example_and_the_styles():
    result = run("--help")
    assert result.exit_code == 0
    for text in ("Example:", "temperate", "arid", "tropical", "lossless"):
        assert text in result.output


def test_every_layer_opens_styled(written):
    """Rasters have a .qml beside them, GeoPackages hold theirs, every noise kind has a colour."""
    from geonoise.io.styles import embedded_style
    from geonoise.synth.noise import NOISE_KINDS

    out, _ = written
    for name in ("labels_clean", "labels_noisy", "noise_truth"):
        assert "paletted" in (out / f"{name}.qml").read_text()
    for name in ("labels_clean", "labels_noisy"):
        assert 'type="singleSymbol"' in embedded_style(out / f"{name}.gpkg", "labels")
    kinds = embedded_style(out / "noise_objects.gpkg", "noise_objects")
    assert all(f'value="{kind}"' in kinds for kind in NOISE_KINDS)
