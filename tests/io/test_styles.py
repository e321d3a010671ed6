"""QGIS styles: valid QML with the renderer and categories QGIS needs, beside the layer
or inside its GeoPackage."""

from __future__ import annotations

import sqlite3
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geonoise.contracts import IGNORE
from geonoise.io.styles import (
    KIND_COLOURS,
    STYLES_TABLE,
    embedded_style,
    holds_style,
    kinds_qml,
    quantile_ranges,
    ranking_qml,
    raster_style,
    style_path,
    tiles_qml,
    vector_style,
)
from geonoise.vectorize.attributes import KINDS
from tests.conftest import CRS


def parse(path: Path | str) -> ET.Element:
    """The ``<qgis>`` root of a ``.qml`` file or of QML text."""
    root = ET.parse(path).getroot() if isinstance(path, Path) else ET.fromstring(path)
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
    written = vector_style(tmp_path / "noise.fgb", kinds_qml())
    assert written == tmp_path / "noise.qml"
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
    renderer = parse(kinds_qml(field='my "kind"')).find("renderer-v2")
    assert renderer.get("attr") == 'my "kind"'


def test_probabilities_style_shows_the_first_class_that_is_not_background(tmp_path):
    written = raster_style(
        tmp_path / "noise.probs.tif", "probabilities", ["background", "building"]
    )
    assert written == tmp_path / "noise.probs.qml"
    renderer = parse(written).find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "2"
    items = renderer.findall("rastershader/colorrampshader/item")
    assert [float(i.get("value")) for i in items][::4] == [0, 1]
    assert all(i.get("alpha") == "255" for i in items)  # opaque, unlike the noise ramp
    land_cover = parse(raster_style(tmp_path / "lc.tif", "probabilities", ["water", "field"]))
    assert land_cover.find("pipe/rasterrenderer").get("band") == "1"


def polygons(path: Path, layer: str = "noise") -> Path:
    frame = gpd.GeoDataFrame(
        {"kind": ["missing", "spurious"], "score": [0.2, 0.9]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)],
        crs=CRS,
    )
    frame.to_file(path, layer=layer, engine="pyogrio")
    return path


def test_a_geopackage_carries_its_style_as_qgis_writes_it(tmp_path):
    gpkg = polygons(tmp_path / "p.gpkg")
    assert vector_style(gpkg, kinds_qml(), "noise") == gpkg
    assert not style_path(gpkg).exists()
    with sqlite3.connect(gpkg) as db:
        contents = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = ?", (STYLES_TABLE,)
        ).fetchall()
        row = db.execute(
            "SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, useAsDefault, styleSLD, owner, ui, update_time FROM layer_styles"
        ).fetchall()
    assert contents == [("attributes",)]
    assert row[0][:7] == ("", "", "noise", "geom", "noise", 1, "")
    assert row[0][9]  # update_time
    renderer = parse(embedded_style(gpkg, "noise")).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(pyogrio.read_dataframe(gpkg, layer="noise")) == 2


def test_each_layer_of_a_geopackage_gets_its_own_default_style(tmp_path):
    gpkg = polygons(tmp_path / "p.gpkg", "a")
    polygons(gpkg, "b")
    vector_style(gpkg, kinds_qml(), "a")
    vector_style(gpkg, tiles_qml(), "b")
    assert parse(embedded_style(gpkg, "a")).find("renderer-v2").get("type") == "categorizedSymbol"
    assert parse(embedded_style(gpkg, "b")).find("renderer-v2").get("type") == "singleSymbol"
    assert embedded_style(gpkg, "c") is None
    assert embedded_style(polygons(tmp_path / "plain.gpkg"), "noise") is None


def test_holds_style_compares_the_whole_text(tmp_path):
    qml = vector_style(tmp_path / "a.fgb", kinds_qml())
    assert holds_style(qml, kinds_qml())
    assert not holds_style(qml, tiles_qml())
    assert not holds_style(tmp_path / "missing.qml", kinds_qml())


def fill(symbol: ET.Element) -> dict[str, str]:
    return {o.get("name"): o.get("value") for o in symbol.findall("layer/Option/Option")}


def test_ranking_is_graduated_by_score_in_quantiles_and_see_through():
    scores = [*np.linspace(0, 1, 101), float("nan")]
    renderer = parse(ranking_qml(scores)).find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "score"
    ranges = renderer.findall("ranges/range")
    bounds = [(float(r.get("lower")), float(r.get("upper"))) for r in ranges]
    np.testing.assert_allclose(bounds, [(0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1)])
    assert ranges[0].get("label") == "0.000 – 0.200"
    symbols = {s.get("name"): fill(s) for s in renderer.findall("symbols/symbol")}
    assert {r.get("symbol") for r in ranges} == set(symbols)
    alphas = [int(symbols[r.get("symbol")]["color"].split(",")[3]) for r in ranges]
    assert alphas == sorted(alphas) and max(alphas) <= 100  # the scene shows through
    outlines = {symbols[r.get("symbol")]["outline_color"] for r in ranges}
    assert len(outlines) == len(ranges)  # coloured outlines tell the classes apart


@pytest.mark.parametrize(
    ("scores", "ranges"),
    [
        ([], [(0, 1)]),
        ([float("nan")], [(0, 1)]),
        ([0.3, 0.3], [(0.3, 0.3)]),
        ([0.1, 0.9], [(0.1, 0.26), (0.26, 0.42), (0.42, 0.58), (0.58, 0.74), (0.74, 0.9)]),
        ([0.1, 0.1, 0.1, 0.9], [(0.1, 0.42), (0.42, 0.9)]),
    ],
)
def test_quantile_ranges_cover_the_scores(scores, ranges):
    np.testing.assert_allclose(quantile_ranges(scores, 5), ranges)


def test_tile_index_style_is_outlines_only():
    renderer = parse(tiles_qml()).find("renderer-v2")
    assert renderer.get("type") == "singleSymbol"
    options = fill(renderer.find("symbols/symbol"))
    assert options["style"] == "no" and options["outline_style"] == "solid"


def test_noise_ramp_is_clear_below_the_threshold_and_kinds_stand_apart_from_it():
    """Middling scores lay no haze over the scene; no kind's fill passes for a ramp colour."""
    from geonoise.io.styles import KIND_COLOURS, SCORE_RAMP, score_ramp

    assert all(alpha == 0 for value, _, alpha in SCORE_RAMP if value < 0.5)
    assert next(v for v, _, a in score_ramp(0.7) if a > 0) == 0.7
    drawn = np.array([rgb for value, rgb, _ in SCORE_RAMP if value >= 0.5], float)
    between = (drawn[:-1] + drawn[1:]) / 2
    ramp = np.vstack([drawn, between])
    for kind, (fill, _, _) in KIND_COLOURS.items():
        distance = np.linalg.norm(ramp - np.array(fill[:3]), axis=1).min()
        assert distance > 80, (kind, distance)  # spurious vermilion was 51 from orange
