"""``detect`` outputs open styled in QGIS: every raster has its ``.qml`` (probabilities
and tile-mode noise maps included), the ranking GeoPackage holds a see-through style."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from geonoise.detection.tiles import RankOptions, rank_tiles
from geonoise.io.styles import embedded_style, noise_score_qml
from tests.conftest import PixelModel, scene_with_labels


def raster_renderer(path) -> ET.Element:
    return ET.parse(path).getroot().find("pipe/rasterrenderer")


def test_every_scene_raster_has_its_style(tmp_path):
    scene, labels, *_ = scene_with_labels(tmp_path, 48, 48)
    options = DetectOptions(window=32, overlap=8, probabilities=True, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    styles = [tmp_path / name for name in ("noise.qml", "noise.classes.qml", "noise.probs.qml")]
    assert outputs.styles() == styles
    assert [raster_renderer(p).get("type") for p in styles] == [
        "singlebandpseudocolor",
        "paletted",
        "singlebandpseudocolor",
    ]
    assert raster_renderer(styles[2]).get("band") == "2"  # p(building)


def test_tile_mode_noise_maps_and_ranking_are_styled(tmp_path):
    from geonoise.data.datasets import open_tiles
    from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles

    scene, labels, *_ = scene_with_labels(tmp_path, 64, 64, nodata_corner=False)
    tiling = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [str(labels)], tiling), tmp_path / "tiles", tiling)
    out = tmp_path / "rank"
    options = DetectOptions(quicklook=False)
    rank_tiles(open_tiles(str(tmp_path / "tiles")), PixelModel(), out, options, RankOptions())
    tifs = sorted((out / "noise").glob("*.tif"))
    assert len(tifs) == 4
    for tif in tifs:
        assert tif.with_suffix(".qml").read_text() == noise_score_qml()
    root = ET.fromstring(embedded_style(out / "ranking.gpkg", "tiles"))
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "score"
    for symbol in renderer.findall("symbols/symbol"):
        options = {o.get("name"): o.get("value") for o in symbol.findall("layer/Option/Option")}
        assert int(options["color"].split(",")[3]) < 128  # see-through, not an opaque box
        assert options["outline_color"].endswith(",255")
    assert not (out / "ranking.qml").exists()
