"""Open every output of geonoise the way users do: in QGIS (PyQGIS under the system python3).

Runs where Debian's `qgis` is installed (`apt-get install qgis python3-qgis`); skipped
elsewhere. Every layer — scene mode, tile mode, the tile index, the polygons in each
vector format QGIS reads here, synth's outputs — must be valid, in the expected CRS,
opened with its own style (a `.qml` beside it or the GeoPackage's stored default) and
render without error, painting something. `docs/qgis_render.py` does the opening and
rendering; it also draws the README's picture of the demo.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from geonoise.cli.main import cli
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from tests.conftest import CRS, PixelModel, write_scene

SYSTEM_PYTHON = "/usr/bin/python3"
RENDER = Path(__file__).parents[2] / "docs" / "qgis_render.py"


def _has_pyqgis() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.qgis,
    pytest.mark.skipif(not _has_pyqgis(), reason="PyQGIS (Debian qgis) is not installed"),
]

#: QGIS renderer that each output's style sets (the default would be another, or a fill).
RASTERS = {
    "noise": "singlebandpseudocolor",
    "classes": "paletted",
    "probs": "singlebandpseudocolor",
    "tile_noise": "singlebandpseudocolor",
    "synth_labels": "paletted",
    "synth_truth": "paletted",
}
VECTORS = {
    "polygons_gpkg": "categorizedSymbol",
    "polygons_fgb": "categorizedSymbol",
    "polygons_shp": "categorizedSymbol",
    "polygons_geojson": "categorizedSymbol",
    "ranking": "graduatedSymbol",
    "review": "categorizedSymbol",
    "tiles": "singleSymbol",
    "synth_label_layer": "singleSymbol",
    "synth_noise_objects": "categorizedSymbol",
}


def _cli(*args: object) -> None:
    result = CliRunner().invoke(cli, ["-q", *map(str, args)])
    assert result.exit_code == 0, result.output


def _outputs(tmp: Path) -> list[dict]:
    """Every kind of output, written from a small scene with a stand-in model."""
    width, height = 96, 80
    data = np.full((3, height, width), 20, "uint8")
    data[0, 10:30, 10:40] = 250  # the model sees a building the labels lack: missing
    label = np.zeros((1, height, width), "uint8")
    label[0, 50:70, 50:80] = 1  # the labels hold a building the model does not see: spurious
    data[0, 50:70, 50:80] = 0  # (with certainty, so that fix proposes to remove it)
    scene = write_scene(tmp / "scene.tif", width, height, data=data)
    labels = write_scene(tmp / "labels.tif", width, height, data=label)
    options = DetectOptions(window=32, overlap=8, quicklook=False, probabilities=True)
    outputs = SceneOutputs.beside(tmp / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    for suffix in ("gpkg", "fgb", "shp", "geojson"):
        _cli("vectorize", outputs.noise, "-o", tmp / f"polygons.{suffix}")
    _cli("fix", labels, "--noise", outputs.noise, "-o", tmp / "fixed.tif")
    _cli("tile", scene, "-l", labels, "-o", tmp / "tiles", "--size", 32)
    from geonoise.data.datasets import open_tiles
    from geonoise.detection.tiles import RankOptions, rank_tiles

    rank_tiles(open_tiles(str(tmp / "tiles")), PixelModel(), tmp / "rank", options, RankOptions())
    _cli("synth", "-o", tmp / "synth", "--size", 96, 96, "--seed", 3)

    def raster(name: str, path: Path) -> dict:
        return {"name": name, "type": "raster", "path": str(path)}

    def vector(name: str, path: Path, layer: str | None = None) -> dict:
        return {"name": name, "type": "vector", "path": str(path), "layer": layer}

    return [
        raster("noise", outputs.noise),
        raster("classes", outputs.classes),
        raster("probs", outputs.probabilities),
        raster("tile_noise", sorted((tmp / "rank" / "noise").glob("*.tif"))[0]),
        raster("synth_labels", tmp / "synth" / "labels_noisy.tif"),
        raster("synth_truth", tmp / "synth" / "noise_truth.tif"),
        vector("polygons_gpkg", tmp / "polygons.gpkg", "noise"),
        vector("polygons_fgb", tmp / "polygons.fgb"),
        vector("polygons_shp", tmp / "polygons.shp"),
        vector("polygons_geojson", tmp / "polygons.geojson"),
        vector("ranking", tmp / "rank" / "ranking.gpkg", "tiles"),
        vector("review", tmp / "fixed.review.gpkg", "review"),
        vector("tiles", tmp / "tiles" / "tiles.gpkg", "tiles"),
        vector("synth_label_layer", tmp / "synth" / "labels_noisy.gpkg", "labels"),
        vector("synth_noise_objects", tmp / "synth" / "noise_objects.gpkg", "noise_objects"),
    ]


def test_every_output_opens_in_qgis_valid_styled_and_renders(tmp_path):
    layers = _outputs(tmp_path)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"layers": layers}))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run(
        [SYSTEM_PYTHON, str(RENDER), str(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == set(RASTERS) | set(VECTORS)
    for name, renderer in {**RASTERS, **VECTORS}.items():
        layer = report[name]
        assert layer["valid"], name
        assert layer["renderer"] == renderer, (name, layer["renderer"])
        assert layer["errors"] == [] and layer["painted"] > 0, (name, layer)
        expected = "EPSG:4326" if name == "polygons_geojson" else None
        if not name.startswith("synth"):
            assert layer["crs"] == (expected or CRS), name
    for name in ("tiles", "synth_label_layer"):  # outlines: the scene shows through
        assert report[name]["brush"] == "no", name
    assert report["noise"]["size"] == [96, 80]
    assert report["probs"]["band"] == 2  # p(building), not p(background)
    assert report["polygons_gpkg"]["features"] == 2
    for name in ("polygons_fgb", "polygons_shp", "polygons_geojson"):
        assert report[name]["features"] == 2, name
    assert {"kind", "area", "mean_score", "max_score"} <= set(report["polygons_gpkg"]["fields"])
    assert report["ranking"]["features"] == 9
    assert report["review"]["features"] == 2  # the missing and the spurious building
