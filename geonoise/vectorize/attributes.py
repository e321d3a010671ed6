"""The attribute table of the noise polygons: scores, majority classes and the kind of noise.

Every finished region becomes one row of :data:`COLUMNS`: its area (m², that
of the polygon as written), pixel count, mean and maximum noise score, and,
with the class companion (``NOISE.classes.tif``: band 1 the given label, band 2
the predicted class, 255 = none), the majority label and predicted class (ties:
the smaller class id) and a kind, which follows how the region's pixels
disagree rather than the two majorities (in a region with as many pixels one
way as the other, both tie to the same class):

* ``class_change``: a map with more than two classes, some pixel label ≠ prediction;
* for a two-class map (0 = background, 1 = building):
  ``missing`` (more pixels labelled 0 that the model calls 1 than the reverse),
  ``spurious`` (more labelled 1 that the model calls 0), or ``boundary`` when
  there are as many of each (label and model outlines cross in the region) or
  when the region is a sliver along an outline both agree on: at least
  :data:`BOUNDARY_NEAR_SHARE` of its pixels lie within ``boundary_width``
  pixels (a square neighbourhood) of a pixel that label and model both call
  building, and at most :data:`BOUNDARY_DEEP_SHARE` of its pixels are farther
  than ``boundary_width`` pixels from the region's outline (the region is at
  most about ``2 × boundary_width`` pixels thick);
* ``uncertain``: label and model agree on every pixel of the region, the model
  is only unsure (a ``--threshold`` below 0.5, more than two classes, or
  confident-learning scores);
* ``unknown``: no class companion, or no pixel of the region with both a
  label and a predicted class.
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
Kind = Literal["missing", "spurious", "boundary", "class_change", "uncertain", "unknown"]
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
        regions: The regions (their ``missing``, ``spurious``, ``changed``,
            ``near``, ``deep`` and ``pixels`` counts).
        largest_class: The largest class id in the map: above 1 it has more
            classes than background and building.
    """
    kind = np.full(len(label), "unknown", dtype=object)
    kind[(label >= 0) & (predicted >= 0)] = "uncertain"
    changed = regions.changed > 0
    if largest_class > BUILDING:
        kind[changed] = "class_change"
        return kind
    kind[changed & (regions.missing > regions.spurious)] = "missing"
    kind[changed & (regions.spurious > regions.missing)] = "spurious"
    pixels = np.maximum(regions.pixels, 1)
    sliver = (regions.near >= BOUNDARY_NEAR_SHARE * pixels) & (
        regions.deep <= BOUNDARY_DEEP_SHARE * pixels
    )
    kind[changed & (sliver | (regions.missing == regions.spurious))] = "boundary"
    return kind


#: Columns of a batch of rows before the whole layer is known (:func:`batch_frame`): the
#: kind for either sort of map (the largest class id of the whole map picks one) and the
#: polygon's north and west edges, which order the rows.
KIND_COLUMNS = ("kind_building", "kind_classes")
NORTH, WEST = "north", "west"


def kind_column(largest_class: int) -> str:
    """The batch column that holds the kinds of a map whose largest class id is this."""
    return KIND_COLUMNS[1] if largest_class > BUILDING else KIND_COLUMNS[0]


def batch_columns(regions: Regions, has_classes: bool) -> dict[str, np.ndarray]:
    """Per finished region, in their order: :data:`COLUMNS` but ``id`` and ``kind``, the
    two :data:`KIND_COLUMNS` and the :data:`NORTH` and :data:`WEST` edges of its polygon.

    A batch of regions can be tabulated before the rest of the map is scanned;
    :func:`frame` (or the layer writer) then picks the kind column, orders the rows
    and numbers them.
    """
    import pandas as pd
    import shapely

    count = len(regions)
    label = majority(regions.label_counts, count)
    predicted = majority(regions.predicted_counts, count)
    unknown = np.full(count, "unknown", dtype=object)
    bounds = shapely.bounds(regions.geoms).reshape(-1, 4)
    return {
        "area": regions.area,
        "pixels": regions.pixels,
        "mean_score": regions.score_sum / np.maximum(regions.pixels, 1),
        "max_score": regions.score_max,
        "label_class": pd.array(np.where(label < 0, None, label), dtype="Int64"),
        "predicted_class": pd.array(np.where(predicted < 0, None, predicted), dtype="Int64"),
        **{
            column: kinds(label, predicted, regions, largest) if has_classes else unknown
            for column, largest in zip(KIND_COLUMNS, (BUILDING, BUILDING + 1), strict=True)
        },
        NORTH: bounds[:, 3],
        WEST: bounds[:, 0],
    }


def row_order(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The order of the layer's rows: by the polygon's north edge (north first), then its
    west edge, then area (largest first); ties keep their order."""
    return np.lexsort((-columns["area"], columns[WEST], -columns[NORTH]))


def batch_frame(regions: Regions, crs: CRS | str, has_classes: bool) -> gpd.GeoDataFrame:
    """:func:`batch_columns` and the polygons as a GeoDataFrame, rows in the regions' order."""
    import geopandas as gpd
    from pyproj import CRS

    return gpd.GeoDataFrame(
        batch_columns(regions, has_classes),
        geometry=gpd.GeoSeries(regions.geoms),
        crs=CRS.from_user_input(crs),
    )


def frame(
    regions: Regions, crs: CRS | str, largest_class: int, has_classes: bool
) -> gpd.GeoDataFrame:
    """The attribute table of finished regions, ordered north to south (:func:`row_order`).

    Finished regions are in map coordinates with their areas measured
    (:func:`geonoise.vectorize.finishing.finish`); ids count from 1 in row order.

    Args:
        regions: The finished regions.
        crs: The CRS of the layer (the noise map's).
        largest_class: The largest class id in the map (see :func:`kinds`).
        has_classes: Whether a class companion was read; without one every
            kind is ``unknown`` and the classes are null.
    """
    import geopandas as gpd
    from pyproj import CRS

    columns = batch_columns(regions, has_classes)
    order = row_order(columns)
    columns["kind"] = columns[kind_column(largest_class)]
    table = {"id": np.arange(1, len(regions) + 1, dtype=np.int64)}
    table |= {name: columns[name][order] for name in COLUMNS[1:]}
    return gpd.GeoDataFrame(
        table, geometry=gpd.GeoSeries(regions.geoms[order]), crs=CRS.from_user_input(crs)
    )
