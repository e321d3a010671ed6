"""Changes found on the noise map's grid: regions of confident disagreement, one target class each.

The pixels where the model's predicted class differs from the label (both
known, the noise score valid and at least the pixel threshold) are grouped by
the class they would take; each group is vectorized on its own
(:func:`geonoise.vectorize.polygonize.vectorize` on an in-memory noise map that
keeps the scores of that group only), so that every region, and thus every
change, turns pixels into one class. The kinds, scores and areas are those of
vectorize; a change is kept where its kind is one ``fix`` changes and its mean
score reaches that kind's threshold.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from geonoise.contracts import IGNORE, NODATA
from geonoise.fixing.options import FIX_KINDS, FixOptions
from geonoise.vectorize.options import VectorizeOptions
from geonoise.vectorize.polygonize import EmptyResultError, vectorize

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio

#: Columns of the changes found, in order (geometry last).
CHANGE_COLUMNS = (
    "kind",
    "from_class",
    "to_class",
    "mean_score",
    "max_score",
    "area",
    "pixels",
)


def find_changes(
    noise: rasterio.io.DatasetReader,
    score: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    options: FixOptions,
) -> gpd.GeoDataFrame:
    """The changes the model is confident of, in the noise map's CRS, north to south.

    Args:
        noise: The noise map (its grid, CRS and georeferencing).
        score: Its noise scores (NaN where there is none).
        labels: The labels' class ids on its grid (255: ignore).
        predicted: The predicted class ids on its grid (255: none).
        options: Pixel threshold, thresholds per kind, least area, simplification.

    Returns:
        A GeoDataFrame of :data:`CHANGE_COLUMNS` and the polygons.
    """
    import geopandas as gpd
    import pandas as pd

    disagree = (labels != IGNORE) & (predicted != IGNORE) & (labels != predicted)
    disagree &= np.isfinite(score) & (score >= options.threshold)
    frames = [
        _changes_towards(noise, np.where(disagree & (predicted == target), score, NODATA),
                         labels, predicted, options).assign(to_class=int(target))
        for target in np.unique(predicted[disagree])
    ]  # fmt: skip
    found = pd.concat(frames, ignore_index=True) if frames else _empty(noise.crs)
    found = gpd.GeoDataFrame(found, geometry="geometry", crs=noise.crs)
    limits = found["kind"].map(options.min_score).astype(float)
    kept = found[found["kind"].isin(FIX_KINDS) & (found["mean_score"] >= limits)]
    bounds = kept.geometry.bounds
    order = np.lexsort((bounds["minx"].to_numpy(), -bounds["maxy"].to_numpy()))
    kept = kept.iloc[order].rename(columns={"label_class": "from_class"})
    return kept[[*CHANGE_COLUMNS, "geometry"]].reset_index(drop=True)


def _changes_towards(
    noise: rasterio.io.DatasetReader,
    score: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    options: FixOptions,
) -> gpd.GeoDataFrame:
    """The regions of the valid pixels of ``score`` (NODATA elsewhere), vectorized with the
    classes, or none."""
    from rasterio.io import MemoryFile

    grid = {"crs": noise.crs, "transform": noise.transform}
    grid |= {"width": noise.width, "height": noise.height, "driver": "GTiff"}
    vectorizing = VectorizeOptions(
        threshold=options.threshold, min_area=options.min_area, simplify=options.simplify, jobs=1
    )
    with contextlib.ExitStack() as stack:
        scores = stack.enter_context(MemoryFile()).open(
            count=1, dtype="float32", nodata=NODATA, **grid
        )
        scores.write(score.astype("float32"), 1)
        classes = stack.enter_context(MemoryFile()).open(
            count=2, dtype="uint8", nodata=IGNORE, **grid
        )
        classes.write(np.stack([labels, predicted]).astype("uint8"))
        try:
            return vectorize(scores, classes, vectorizing)
        except EmptyResultError:
            return _empty(noise.crs)


def _empty(crs: object) -> gpd.GeoDataFrame:
    """No change: the columns vectorize gives, no rows."""
    import geopandas as gpd

    columns = ("kind", "label_class", "mean_score", "max_score", "area", "pixels", "to_class")
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
