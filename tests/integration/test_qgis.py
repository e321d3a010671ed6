"""Open geonoise's outputs the way users do: with QGIS (PyQGIS under the system python3).

Runs where Debian's `qgis` is installed (`apt-get install qgis python3-qgis`); skipped
elsewhere. The layers must be valid, in the scene's CRS, styled by their .qml, and the
polygon layer must hold the expected features.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from geonoise.cli.main import cli
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from tests.conftest import PixelModel, write_scene

SYSTEM_PYTHON = "/usr/bin/python3"


def _has_pyqgis() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.qgis,
    pytest.mark.skipif(not _has_pyqgis(), reason="PyQGIS (Debian qgis) is not installed"),
]

PYQGIS = """
import json, sys
from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
paths = json.loads(sys.argv[1])
report = {}
for name in ("noise", "classes"):
    layer = QgsRasterLayer(paths[name], name)
    report[name] = {"valid": layer.isValid(), "crs": layer.crs().authid(),
                    "renderer": layer.renderer().type() if layer.renderer() else None,
                    "nodata": layer.dataProvider().sourceNoDataValue(1),
                    "width": layer.width(), "height": layer.height()}
for name, uri in (("polygons", paths["polygons"] + "|layername=noise"),
                  ("ranking", paths["ranking"] + "|layername=tiles")):
    layer = QgsVectorLayer(uri, name, "ogr")
    message, loaded = layer.loadDefaultStyle()
    report[name] = {"valid": layer.isValid(), "crs": layer.crs().authid(),
                    "features": layer.featureCount(), "style_loaded": loaded,
                    "renderer": layer.renderer().type() if layer.renderer() else None,
                    "fields": [f.name() for f in layer.fields()]}
print(json.dumps(report), flush=True)
import os
os._exit(0)  # QGIS 3.22 may crash tearing down layers at exit; the report is out
"""


def test_outputs_open_in_qgis_valid_styled_and_complete(tmp_path):
    width, height = 96, 80
    data = np.full((3, height, width), 20, "uint8")
    data[0, 10:30, 10:40] = 250  # the model sees a building the labels lack: missing
    label = np.zeros((1, height, width), "uint8")
    label[0, 50:70, 50:80] = 1  # the labels hold a building the model does not see: spurious
    scene = write_scene(tmp_path / "scene.tif", width, height, data=data)
    labels = write_scene(tmp_path / "labels.tif", width, height, data=label)
    options = DetectOptions(window=32, overlap=8, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    runner = CliRunner()
    polygons = tmp_path / "polygons.gpkg"
    result = runner.invoke(cli, ["-q", "vectorize", str(outputs.noise), "-o", str(polygons)])
    assert result.exit_code == 0, result.output
    tiles = tmp_path / "tiles"
    assert (
        runner.invoke(
            cli, ["-q", "tile", str(scene), "-l", str(labels), "-o", str(tiles), "--size", 32]
        ).exit_code
        == 0
    )
    from geonoise.data.datasets import open_tiles
    from geonoise.detection.tiles import RankOptions, rank_tiles

    rank_tiles(open_tiles(str(tiles)), PixelModel(), tmp_path / "rank", options, RankOptions())
    paths = {
        "noise": str(outputs.noise),
        "classes": str(outputs.classes),
        "polygons": str(polygons),
        "ranking": str(tmp_path / "rank" / "ranking.gpkg"),
    }
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", PYQGIS, json.dumps(paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("noise", "classes", "polygons", "ranking"):
        assert report[name]["valid"], name
        assert report[name]["crs"] == "EPSG:32633", name
    assert report["noise"]["renderer"] == "singlebandpseudocolor"  # noise.qml was applied
    assert report["noise"]["nodata"] == -1
    assert (report["noise"]["width"], report["noise"]["height"]) == (width, height)
    assert report["classes"]["renderer"] == "paletted"
    assert report["polygons"]["features"] == 2 and report["polygons"]["style_loaded"]
    assert report["polygons"]["renderer"] == "categorizedSymbol"
    assert {"kind", "area", "mean_score", "max_score"} <= set(report["polygons"]["fields"])
    assert report["ranking"]["features"] == 9
