"""Reading and writing GIS files: the layer of the library that opens files.

* :mod:`geonoise.io.rasters`: the shared GeoTIFF profile, georeferenced scenes,
  windowed reads (padded outside the raster), GeoTIFF and COG writing;
* :mod:`geonoise.io.vectors`: vector layers read and written by file suffix;
* :mod:`geonoise.io.files`: atomic outputs, JSON and CSV;
* :mod:`geonoise.io.styles`: QGIS ``.qml`` styles; :mod:`geonoise.io.plots`: PNG figures.

The functions of the first three are re-exported here (``from geonoise import io``,
then ``io.read_window(...)``); they import rasterio and geopandas only when called.
"""

from geonoise.io.files import (
    atomic_output,
    check_output,
    expand_lists,
    first_line,
    output_error,
    read_csv,
    read_list_file,
    unique_stems,
    write_csv,
    write_json,
    writing,
)
from geonoise.io.rasters import (
    BLOCK_SIZE,
    check_creation_options,
    cog_options,
    compression,
    create_raster,
    geotiff_profile,
    open_raster,
    open_scene,
    read_valid_mask,
    read_window,
    require_georeference,
    same_grid,
    write_cog,
    write_raster,
)
from geonoise.io.vectors import (
    GPKG_OPTIONS,
    VECTOR_DRIVERS,
    is_vector_path,
    read_vector,
    write_vector,
)

__all__ = [
    "BLOCK_SIZE",
    "GPKG_OPTIONS",
    "VECTOR_DRIVERS",
    "atomic_output",
    "check_creation_options",
    "check_output",
    "cog_options",
    "compression",
    "create_raster",
    "expand_lists",
    "first_line",
    "geotiff_profile",
    "is_vector_path",
    "open_raster",
    "open_scene",
    "output_error",
    "read_csv",
    "read_list_file",
    "read_valid_mask",
    "read_vector",
    "read_window",
    "require_georeference",
    "same_grid",
    "unique_stems",
    "write_cog",
    "write_csv",
    "write_json",
    "write_raster",
    "write_vector",
    "writing",
]
