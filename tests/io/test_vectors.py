"""Vector files: GeoJSON as RFC 7946 has it, styles stored with the layer, the data layer read."""

from __future__ import annotations

import json
import logging
import warnings
import xml.etree.ElementTree as ET

import geopandas as gpd
import pyogrio
import pytest
import shapely

from geonoise import io
from geonoise.io.styles import STYLES_TABLE, embedded_style, kinds_qml, style_path
from tests.conftest import CRS, ORIGIN


@pytest.fixture
def frame() -> gpd.GeoDataFrame:
    """Two 10 m squares in UTM 33N with their (projected) areas."""
    x, y = ORIGIN
    squares = [shapely.box(x, y - 10, x + 10, y), shapely.box(x + 20, y - 10, x + 30, y)]
    attributes = {"kind": ["missing", "spurious"], "area": [100.0, 100.0]}
    return gpd.GeoDataFrame(attributes, geometry=squares, crs=CRS)


@pytest.mark.parametrize("suffix", [".geojson", ".json"])
def test_geojson_is_wgs84_lon_lat_without_a_crs_member(frame, tmp_path, suffix, caplog):
    path = tmp_path / f"noise{suffix}"
    with caplog.at_level(logging.INFO, logger="geonoise"):
        io.write_vector(frame, path)
    document = json.loads(path.read_text())
    assert "crs" not in document
    lon, lat = document["features"][0]["geometry"]["coordinates"][0][0]
    assert 14.9 < lon < 15.1 and 48.7 < lat < 48.8  # UTM 33N's central meridian is 15°E
    assert [f["properties"]["area"] for f in document["features"]] == [100.0, 100.0]
    back = io.read_vector(path)
    assert back.crs == "EPSG:4326"
    area = back.to_crs(CRS).area
    assert area.tolist() == pytest.approx([100.0, 100.0], abs=0.01)
    assert f"{path.name}: reprojected from EPSG:32633 to WGS84 lon/lat" in caplog.text


def test_geojson_already_in_wgs84_is_not_said_to_be_reprojected(frame, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="geonoise"):
        io.write_vector(frame.to_crs("EPSG:4326"), tmp_path / "a.geojson")
    assert "reprojected" not in caplog.text


def test_a_geopackage_keeps_its_crs_and_carries_its_style(frame, tmp_path):
    path = tmp_path / "noise.gpkg"
    io.write_vector(frame, path, layer="noise", style=kinds_qml())
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["noise", STYLES_TABLE]
    assert not style_path(path).exists()
    renderer = ET.fromstring(embedded_style(path, "noise")).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    assert io.read_vector(path).crs == CRS


def test_other_formats_get_the_style_beside_them(frame, tmp_path):
    io.write_vector(frame, tmp_path / "noise.fgb", style=kinds_qml())
    assert (tmp_path / "noise.qml").read_text() == kinds_qml()


def test_read_vector_reads_the_data_layer_beside_the_styles_table(frame, tmp_path):
    path = tmp_path / "noise.gpkg"
    io.write_vector(frame, path, layer="noise", style=kinds_qml())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyogrio warns when it has to choose a layer
        layer = io.read_vector(path)
    assert layer["kind"].tolist() == ["missing", "spurious"]
