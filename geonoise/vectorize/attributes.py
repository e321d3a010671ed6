"""The attribute table of the noise polygons: scores, majority classes and the kind of noise.

Every finished region becomes one row of :data:`COLUMNS`: its area (m²), pixel
count, mean and maximum noise score, and, with the class companion
(``NOISE.classes.tif``: band 1 the given label, band 2 the predicted class,
255 = none), the majority label and predicted class and a kind:

* ``class_change``: a map with more than two classes, label ≠ prediction;
* for a two-class map (0 = background, 1 = building):
  ``missing`` (label 0, model 1), ``spurious`` (label 1, model 0), or
  ``boundary`` when the region is a sliver along an outline both agree on:
  at least :data:`BOUNDARY_NEAR_SHARE` of its pixels lie within
  ``boundary_width`` pixels (a square neighbourhood) of a pixel that label and
  model both call building, and at most :data:`BOUNDARY_DEEP_SHARE` of its
  pixels are farther than ``boundary_width`` pixels from the region's outline
  (the region is at most about ``2 × boundary_width`` pixels thick);
* ``unknown``: no class companion, no labelled or predicted pixel in the
  region, or majority label = majority prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from geonoise.contracts import BUILDING
from geonoise.vectorize.regions import Regions

if TYPE_CHECKING:
    import geopandas as gpd
    from rasterio.crs import CRS

#: The kind of noise a polygon shows.
Kind = Literal["missing", "spurious", "boundary", "class_change", "unknown"]
#: Kinds a noise polygon can have, in legend order.
KINDS: tuple[Kind, ...] = get_args(Kind)
#: Boundary rule: share of pixels near an agreed building pixel, at least.
BOUNDARY_NEAR_SHARE = 0.5
#: Boundary rule: share of pixels deeper than ``boundary_width`` inside the region, at most.
BOUNDARY_DEEP_SHARE = 0.05
#: Output columns, in order (geometry last).
COLUMNS = (
    "id",
    "area",
    "pixels",
    "mean_score",
    "max_score",
    "label_class",
    "predicted_class",
    "kind",
)


def majority(counts: np.ndarray, count: int) -> np.ndarray:
    """Most frequent class per region (ties: the smaller id); -1 where none.

    Args:
        counts: Sparse ``(region, class, pixels)`` triples.
        count: Regions in all.
    """
    out = np.full(count, -1, dtype=np.int64)
    if len(counts):
        # Sort by region, then count descending, then class ascending; take each first.
        order = np.lexsort((counts[:, 1], -counts[:, 2], counts[:, 0]))
        ranked = counts[order]
        first = np.r_[True, ranked[1:, 0] != ranked[:-1, 0]]
        out[ranked[first, 0]] = ranked[first, 1]
    return out


def kinds(
    label: np.ndarray,
    predicted: np.ndarray,
    regions: Regions,
    largest_class: int,
) -> np.ndarray:
    """The :data:`Kind` of every region (see the module docstring for the rules).

    Args:
        label: Majority label class per region (-1: none).
        predicted: Majority predicted class per region (-1: none).
        regions: The regions (their ``near``, ``deep`` and ``pixels`` counts).
        largest_class: The largest class id in the map: above 1 it has more
            classes than background and building.
    """
    kind = np.full(len(label), "unknown", dtype=object)
    changed = (label >= 0) & (predicted >= 0) & (label != predicted)
    if largest_class > BUILDING:
        kind[changed] = "class_change"
        return kind
    kind[changed & (label == 0)] = "missing"
    kind[changed & (label == BUILDING)] = "spurious"
    pixels = np.maximum(regions.pixels, 1)
    sliver = (regions.near >= BOUNDARY_NEAR_SHARE * pixels) & (
        regions.deep <= BOUNDARY_DEEP_SHARE * pixels
    )
    kind[changed & sliver] = "boundary"
    return kind


def frame(
    regions: Regions, crs: CRS | str, largest_class: int, has_classes: bool
) -> gpd.GeoDataFrame:
    """The attribute table of finished regions, ordered north to south.

    Finished regions are in map coordinates with their areas measured
    (:func:`geonoise.vectorize.finishing.finish`). Rows go by the top edge of
    their polygon (north first), then its left edge, then area (largest
    first); ids count from 1 in that order.

    Args:
        regions: The finished regions.
        crs: The CRS of the layer (the noise map's).
        largest_class: The largest class id in the map (see :func:`kinds`).
        has_classes: Whether a class companion was read; without one every
            kind is ``unknown`` and the classes are null.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely
    from pyproj import CRS

    count = len(regions)
    label = majority(regions.label_counts, count)
    predicted = majority(regions.predicted_counts, count)
    area = regions.area
    bounds = shapely.bounds(regions.geoms)
    order = np.lexsort((-area, bounds[:, 0], -bounds[:, 3]))
    kind = kinds(label, predicted, regions, largest_class) if has_classes else None
    columns = {
        "id": np.arange(1, count + 1, dtype=np.int64),
        "area": area[order],
        "pixels": regions.pixels[order],
        "mean_score": (regions.score_sum / np.maximum(regions.pixels, 1))[order],
        "max_score": regions.score_max[order],
        "label_class": pd.array(np.where(label < 0, None, label)[order], dtype="Int64"),
        "predicted_class": pd.array(np.where(predicted < 0, None, predicted)[order], dtype="Int64"),
        "kind": (kind[order] if kind is not None else np.full(count, "unknown", object)),
    }
    return gpd.GeoDataFrame(
        columns, geometry=gpd.GeoSeries(regions.geoms[order]), crs=CRS.from_user_input(crs)
    )
