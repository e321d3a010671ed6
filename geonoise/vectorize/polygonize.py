"""A noise map's suspect regions as polygons with attributes, from open datasets.

:func:`vectorize` is the library's entry point for datasets already open (a
file, a ``MemoryFile``): it checks the class companion, runs the block pass
(:func:`geonoise.vectorize.scan.scan`), finishes the regions that waited for
the merge (hole filling first, since a filled hole joins the regions inside
it), and builds the attribute table. :mod:`geonoise.vectorize.files` does the
same from paths and writes the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.errors import GeonoiseError, GeoreferenceError, ReadError
from geonoise.vectorize.attributes import frame
from geonoise.vectorize.finishing import finish
from geonoise.vectorize.geometry import fill_holes, to_map
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.regions import Regions
from geonoise.vectorize.scan import scan
from geonoise.windows import Window

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio


class EmptyResultError(GeonoiseError):
    """No region is left to write (nothing above the threshold, or all too small)."""


def vectorize(
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader | None = None,
    options: VectorizeOptions = DEFAULT_OPTIONS,
    on_window: Callable[[Window], None] | None = None,
) -> gpd.GeoDataFrame:
    """Polygons of the suspect regions of a noise map, with their attributes.

    Args:
        noise: The noise-score raster (band 1; its nodata and NaN are no data).
        classes: Its class companion on the same grid (band 1 label, band 2
            predicted), or None.
        options: Threshold, clean-up and block size.
        on_window: Called after each block (progress).

    Returns:
        A GeoDataFrame in the raster's CRS with
        :data:`geonoise.vectorize.attributes.COLUMNS` and the geometry.

    Raises:
        EmptyResultError: No pixel reaches the threshold, or every polygon is
            smaller than ``min_area``.
        GeoreferenceError: ``classes`` is not on the noise map's grid.
    """
    if classes is not None:
        check_classes(noise, classes)
    scanned = scan(noise, classes, options, on_window)
    if not scanned.found:
        raise EmptyResultError(
            f"{noise.name}: no pixel has a noise score of at least {options.threshold:g} "
            "(--threshold); nothing written"
        )
    pending = fill_holes(to_map(scanned.pending, noise.transform), options.fill_holes)
    regions = Regions.concat([scanned.done, finish(pending, scanned.finishing)])
    if not len(regions):
        raise EmptyResultError(
            f"{noise.name}: all {scanned.found - len(scanned.pending) + len(pending)} regions "
            f"are smaller than --min-area {options.min_area:g}; nothing written"
        )
    return frame(regions, noise.crs, scanned.largest_class, classes is not None)


def check_classes(noise: rasterio.io.DatasetReader, classes: rasterio.io.DatasetReader) -> None:
    """Refuse a class companion that is not on the noise map's grid or lacks its two bands."""
    if classes.count < 2:
        raise ReadError(
            f"{classes.name} has {classes.count} band(s); a class companion has 2 "
            "(label, predicted)"
        )
    if not io.same_grid(classes, noise):
        raise GeoreferenceError(
            f"{classes.name} is not on the grid of {noise.name} (size, CRS and transform "
            "must match); pass the class companion that detect wrote beside it"
        )
