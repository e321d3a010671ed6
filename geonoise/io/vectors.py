"""Vector files: read and written by file suffix (GeoPackage, GeoJSON, FlatGeobuf, …)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise.errors import ReadError
from geonoise.io.files import first_line, writing

if TYPE_CHECKING:
    import geopandas as gpd

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


def read_vector(path: str | os.PathLike, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame; unreadable files raise :class:`ReadError`."""
    import geopandas as gpd

    try:
        if Path(path).suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio, fiona and arrow raise many types for a bad file
        raise ReadError(f"cannot read {path} as a vector layer: {first_line(exc)}") from exc


def write_vector(gdf: gpd.GeoDataFrame, path: str | os.PathLike, layer: str | None = None) -> None:
    """Write ``gdf`` in the format its suffix names (GeoPackage, GeoJSON, FlatGeobuf, …).

    Raises:
        GeonoiseError: the file cannot be written (no space, no permission, …).
    """
    driver = VECTOR_DRIVERS.get(Path(path).suffix.lower())
    if driver is None:
        raise ValueError(f"unknown vector suffix: {path}")
    with writing(path):
        _write_vector(gdf, path, driver, layer)


def _write_vector(
    gdf: gpd.GeoDataFrame, path: str | os.PathLike, driver: str, layer: str | None
) -> None:
    if driver == "Parquet":
        gdf.to_parquet(path)
    elif driver == "GPKG":
        gdf.to_file(
            path, driver=driver, layer=layer, engine="pyogrio", dataset_options=GPKG_OPTIONS
        )
    else:
        gdf.to_file(path, driver=driver, engine="pyogrio")
