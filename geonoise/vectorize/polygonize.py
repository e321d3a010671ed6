"""A noise map's suspect regions as polygons with attributes, from open datasets.

:func:`vectorize` is the library's entry point for datasets already open (a
file, a ``MemoryFile``): it checks the class companion, runs the block pass
(:func:`geonoise.vectorize.scan.scan`), which hands on finished regions in
batches, and builds the attribute table of them all in memory.
:mod:`geonoise.vectorize.files` does the same from paths, but writes the
batches to the layer as they come, so its memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.errors import GeonoiseError, GeoreferenceError, ReadError
from geonoise.vectorize.attributes import frame
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.regions import Regions
from geonoise.vectorize.scan import Tally, scan
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
            smaller than ``min_area`` or scores below ``min_score``.
        GeoreferenceError: ``classes`` is not on the noise map's grid.
    """
    if classes is not None:
        check_classes(noise, classes)
    tally = Tally()
    regions = Regions.concat([Regions.empty(), *scan(noise, classes, options, on_window, tally)])
    check_found(noise, options, tally)
    return frame(regions, noise.crs, tally.largest_class, classes is not None)


def check_found(noise: rasterio.io.DatasetReader, options: VectorizeOptions, tally: Tally) -> None:
    """Raise :class:`EmptyResultError` where the block pass handed on no region."""
    if not tally.found:
        raise EmptyResultError(
            f"{noise.name}: no pixel has a noise score of at least {options.threshold:g} "
            "(--threshold); nothing written"
        )
    if not tally.kept:
        raise EmptyResultError(
            f"{noise.name}: all {tally.found} regions are smaller than --min-area "
            f"{options.min_area:g}"
            + (f" or score below --min-score {options.min_score:g}" if options.min_score else "")
            + "; nothing written"
        )


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
