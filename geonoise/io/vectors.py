"""Vector files: read and written by file suffix (GeoPackage, GeoJSON, FlatGeobuf, …).

GeoJSON is written as RFC 7946 has it: WGS84 longitude/latitude without a
``crs`` member (GDAL reprojects the layer; its attributes, areas included, are
those computed before, in the layer's own CRS). A GeoPackage carries its QGIS
style inside (:mod:`geonoise.io.styles`), in a ``layer_styles`` table that
:func:`read_vector` passes over.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise.errors import ReadError
from geonoise.io import styles
from geonoise.io.files import first_line, writing

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

#: Vector formats chosen by file suffix (GeoParquet is written by geopandas itself).
VECTOR_DRIVERS: dict[str, str] = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".shp": "ESRI Shapefile",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
}


def is_vector_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a vector file geonoise reads or writes (by suffix)."""
    return Path(path).suffix.lower() in VECTOR_DRIVERS


#: GeoPackage 1.2, not GDAL 3.10's default 1.4: QGIS LTRs built on older GDAL warn that they
#: only partly support 1.4. Every GeoPackage geonoise writes uses it.
GPKG_OPTIONS = {"VERSION": "1.2"}
#: GeoJSON as RFC 7946 (WGS84 lon/lat, no ``crs`` member): GDAL reprojects to EPSG:4326.
GEOJSON_OPTIONS = {"RFC7946": "YES"}


def read_vector(path: str | os.PathLike, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame; unreadable files raise :class:`ReadError`.

    Without ``layer``, a GeoPackage's only data layer is read (its QGIS styles
    table aside), or else its first layer.
    """
    import geopandas as gpd

    try:
        if Path(path).suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        if layer is None:
            layer = data_layer(path)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio, fiona and arrow raise many types for a bad file
        raise ReadError(f"cannot read {path} as a vector layer: {first_line(exc)}") from exc


def data_layer(path: str | os.PathLike) -> str | None:
    """The only layer of a GeoPackage besides :data:`~geonoise.io.styles.STYLES_TABLE`;
    None where that does not name one (another format, several data layers)."""
    if not styles.embeds_style(path):
        return None
    import pyogrio

    names = [name for name in pyogrio.list_layers(path)[:, 0] if name != styles.STYLES_TABLE]
    return names[0] if len(names) == 1 else None


def write_vector(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    layer: str | None = None,
    style: str | None = None,
) -> None:
    """Write ``gdf`` in the format its suffix names (GeoPackage, GeoJSON, FlatGeobuf, …).

    Args:
        layer: The layer's name (GeoPackage).
        style: QGIS QML stored as the layer's default style
            (:func:`geonoise.io.styles.vector_style`: inside a GeoPackage, else
            a ``.qml`` beside the file).

    Raises:
        GeonoiseError: the file cannot be written (no space, no permission, …).
    """
    driver = VECTOR_DRIVERS.get(Path(path).suffix.lower())
    if driver is None:
        raise ValueError(f"unknown vector suffix: {path}")
    with writing(path):
        _write_vector(gdf, path, driver, layer)
        if style is not None:
            styles.vector_style(path, style, layer)


def written_crs(path: str | os.PathLike, crs: str) -> str:
    """The CRS a layer in ``crs`` has once written to ``path``: EPSG:4326 for GeoJSON."""
    return "EPSG:4326" if VECTOR_DRIVERS.get(Path(path).suffix.lower()) == "GeoJSON" else crs


def write_options(
    driver: str, path: str | os.PathLike, crs: Any, layer: str | None = None
) -> dict[str, Any]:
    """pyogrio's write arguments for a ``driver`` layer in ``crs`` written to ``path``:
    GeoPackage 1.2 (:data:`GPKG_OPTIONS`) and its ``layer`` name, GeoJSON as RFC 7946
    (:data:`GEOJSON_OPTIONS`; a reprojection is logged)."""
    match driver:
        case "GPKG":
            return {"layer": layer, "dataset_options": GPKG_OPTIONS}
        case "GeoJSON":
            if crs is not None and not _is_wgs84(crs):
                name = Path(path).name  # the final name: ``path`` may be a scratch copy
                logger.info(
                    "%s: reprojected from %s to WGS84 lon/lat, as RFC 7946 has GeoJSON", name, crs
                )
            return {"layer_options": GEOJSON_OPTIONS}
        case _:
            return {}


def _is_wgs84(crs: Any) -> bool:
    from pyproj import CRS

    return CRS.from_user_input(crs).equals("EPSG:4326", ignore_axis_order=True)


def _write_vector(
    gdf: gpd.GeoDataFrame, path: str | os.PathLike, driver: str, layer: str | None
) -> None:
    if driver == "Parquet":
        gdf.to_parquet(path)
        return
    options = write_options(driver, path, gdf.crs, layer)
    gdf.to_file(path, driver=driver, engine="pyogrio", **options)
