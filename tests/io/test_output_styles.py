"""Every vector layer geonoise writes carries its QGIS style: inside a GeoPackage
(``layer_styles``, the default row), beside any other format (``.qml``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from geonoise.data.tiledir import INDEX_LAYER, read_tile_index
from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from geonoise.errors import OutputExistsError
from geonoise.io.styles import embedded_style, kinds_qml
from geonoise.vectorize.files import vectorize_file
from tests.vectorize.conftest import known_scene, write_classes, write_noise


def renderer(qml: str | None) -> ET.Element:
    assert qml is not None, "no default style"
    root = ET.fromstring(qml)
    assert root.tag == "qgis" and root.get("styleCategories") == "Symbology"
    return root.find("renderer-v2")


@pytest.fixture
def noise(tmp_path) -> Path:
    score, label, predicted = known_scene()
    write_classes(tmp_path / "noise.classes.tif", label, predicted)
    return write_noise(tmp_path / "noise.tif", score)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_noise_polygons_geopackage_holds_its_style_and_no_qml(noise, tmp_path):
    summary = vectorize_file(noise, tmp_path / "out" / "polygons.gpkg")
    style = renderer(embedded_style(tmp_path / "out" / "polygons.gpkg", "noise"))
    assert style.get("type") == "categorizedSymbol" and style.get("attr") == "kind"
    assert names(tmp_path / "out") == ["polygons.gpkg"]
    assert summary.style == str(tmp_path / "out" / "polygons.gpkg")


def test_geopackage_and_other_formats_side_by_side(noise, tmp_path):
    for suffix in (".gpkg", ".fgb", ".geojson", ".shp"):
        vectorize_file(noise, tmp_path / f"noise_polygons{suffix}")
    assert (tmp_path / "noise_polygons.qml").read_text() == kinds_qml()
    assert embedded_style(tmp_path / "noise_polygons.gpkg", "noise") == kinds_qml()


def test_a_different_qml_beside_another_format_is_still_refused(noise, tmp_path):
    (tmp_path / "p.qml").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"p\.qml exists"):
        vectorize_file(noise, tmp_path / "p.fgb")
    assert not (tmp_path / "p.fgb").exists()
    vectorize_file(noise, tmp_path / "p.gpkg")  # it holds its style: no conflict
    assert (tmp_path / "p.qml").read_text() == "mine"


def test_the_noise_maps_style_is_no_conflict_for_a_geopackage(noise, tmp_path):
    (tmp_path / "noise.qml").write_text("raster style")
    summary = vectorize_file(noise, tmp_path / "noise.gpkg")
    assert (tmp_path / "noise.qml").read_text() == "raster style"
    assert renderer(embedded_style(tmp_path / "noise.gpkg", "noise")) is not None
    assert summary.style == str(tmp_path / "noise.gpkg")


def test_tile_index_holds_an_outline_style(scene_factory, tmp_path):
    scene = scene_factory(width=64, height=64)
    options = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [], options), tmp_path / "tiles", options)
    style = renderer(embedded_style(tmp_path / "tiles" / "tiles.gpkg", INDEX_LAYER))
    assert style.get("type") == "singleSymbol"
    assert len(read_tile_index(tmp_path / "tiles")) == 4
