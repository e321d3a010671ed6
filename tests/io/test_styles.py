"""QGIS styles: valid QML with the renderer and categories QGIS needs, beside the layer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from geonoise.contracts import IGNORE
from geonoise.io.styles import KIND_COLOURS, raster_style, style_path, vector_style
from geonoise.vectorize.attributes import KINDS


def parse(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis"
    assert root.get("version", "").startswith("3.")
    assert root.get("styleCategories") == "Symbology"
    return root


@pytest.mark.parametrize(
    ("layer", "qml"),
    [
        ("out/noise.tif", "out/noise.qml"),
        ("noise.classes.tif", "noise.classes.qml"),
        ("noise.gpkg", "noise.qml"),
        ("a/b.shp", "a/b.qml"),
    ],
)
def test_style_sits_beside_the_layer_with_its_basename(layer, qml):
    assert style_path(layer) == Path(qml)


def test_noise_score_style_is_a_ramp_from_transparent_to_red(tmp_path):
    written = raster_style(tmp_path / "noise.tif")
    assert written == tmp_path / "noise.qml"
    renderer = parse(written).find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    assert renderer.get("band") == "1" and renderer.get("nodataColor") == ""
    assert (renderer.get("classificationMin"), renderer.get("classificationMax")) == ("0", "1")
    shader = renderer.find("rastershader/colorrampshader")
    assert shader.get("colorRampType") == "INTERPOLATED"
    items = shader.findall("item")
    values = [float(item.get("value")) for item in items]
    assert values == sorted(values) and values[0] == 0 and values[-1] == 1
    assert items[0].get("alpha") == "0" and items[-1].get("alpha") == "255"
    red, green, blue = (int(items[-1].get("color")[i : i + 2], 16) for i in (1, 3, 5))
    assert red > 150 and green < 50 and blue < 80


def test_classes_style_is_paletted_with_ignore_transparent(tmp_path):
    written = raster_style(tmp_path / "noise.classes.tif", "classes", ["water", "field", "urban"])
    renderer = parse(written).find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [e.get("value") for e in entries] == ["0", "1", "2", str(IGNORE)]
    assert entries[2].get("label") == "2: urban"
    assert entries[-1].get("alpha") == "0"
    assert all(e.get("alpha") == "255" for e in entries[:-1])


def test_unknown_raster_style_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        raster_style(tmp_path / "x.tif", "hillshade")


def test_vector_style_categorizes_every_kind_with_a_fill(tmp_path):
    written = vector_style(tmp_path / "noise.gpkg")
    root = parse(written)
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "kind"
    categories = renderer.findall("categories/category")
    assert [c.get("value") for c in categories] == list(KINDS) == list(KIND_COLOURS)
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    assert {c.get("symbol") for c in categories} == set(symbols)
    for symbol in symbols.values():
        assert symbol.get("type") == "fill"
        layer = symbol.find("layer")
        assert layer.get("class") == "SimpleFill"
        options = {o.get("name"): o.get("value") for o in layer.findall("Option/Option")}
        alpha = int(options["color"].split(",")[3])
        assert 0 < alpha < 255  # semi-transparent
        assert options["outline_style"] == "solid"
    assert root.find("labeling") is None
    assert root.find("layerGeometryType").text == "2"


def test_vector_style_field_is_configurable_and_escaped(tmp_path):
    renderer = parse(vector_style(tmp_path / "x.fgb", field='my "kind"')).find("renderer-v2")
    assert renderer.get("attr") == 'my "kind"'
