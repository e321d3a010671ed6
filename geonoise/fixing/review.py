"""The review layer: one feature per change, ``status`` edited in QGIS, read back to apply.

A GeoPackage layer :data:`LAYER` in the labels' CRS, styled inside by kind
and status (:func:`geonoise.io.styles.review_qml`), with :data:`COLUMNS`. Its
layer metadata names the labels it was proposed for and their grid (raster
labels: size and transform) or feature count (vector labels), so that it is
applied to those labels only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.errors import InvalidInputError
from geonoise.fixing.changes import CHANGE_COLUMNS
from geonoise.io import styles
from geonoise.vectorize.writer import move_into_place

if TYPE_CHECKING:
    import geopandas as gpd

#: Layer name in the review GeoPackage.
LAYER = "review"
#: Columns of the review layer, in order (geometry last).
COLUMNS = ("id", *CHANGE_COLUMNS, "label_feature", "status")
#: The statuses a user may give a change (any case); only ``accepted`` ones are applied.
STATUSES = ("proposed", "accepted", "rejected")
#: Layer metadata keys: the labels' file name, ``raster`` or ``vector``, and their grid or
#: feature count.
LABELS_KEY, MODE_KEY, SHAPE_KEY = "geonoise_labels", "geonoise_labels_mode", "geonoise_labels_shape"


def review_path_for(output: str | os.PathLike) -> Path:
    """The review layer beside the fixed labels: ``fixed.tif`` → ``fixed.review.gpkg``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.review.gpkg")


def check_review_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse a review layer that is not a GeoPackage or that exists (without ``overwrite``)."""
    if Path(path).suffix.lower() != ".gpkg":
        raise InvalidInputError(f"{path}: the review layer is a GeoPackage (.gpkg)", "--review")
    io.check_output(path, overwrite)


def review_frame(changes: gpd.GeoDataFrame, label_feature: np.ndarray | None) -> gpd.GeoDataFrame:
    """The review layer's rows: the changes numbered from 1, ``status`` proposed.

    Args:
        changes: The changes (:data:`geonoise.fixing.changes.CHANGE_COLUMNS`) in the
            labels' CRS.
        label_feature: Per change, the label feature (1-based row) it concerns, 0 where
            none; None for raster labels.
    """
    import pandas as pd

    count = len(changes)
    features = np.zeros(count, np.int64) if label_feature is None else label_feature
    table = changes.assign(
        id=np.arange(1, count + 1, dtype=np.int64),
        label_feature=pd.array(np.where(features > 0, features, None), dtype="Int64"),
        status="proposed",
    )
    return table[[*COLUMNS, table.geometry.name]]


def write_review(
    review: gpd.GeoDataFrame,
    path: str | os.PathLike,
    metadata: dict[str, str],
    *,
    overwrite: bool,
) -> None:
    """Write the review layer with its ``metadata`` and style inside, moved into place whole."""
    import pyogrio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as scratch:
        staged = Path(scratch) / path.name
        with io.writing(path):
            pyogrio.write_dataframe(
                review, staged, layer=LAYER, driver="GPKG", dataset_options=io.GPKG_OPTIONS,
                layer_metadata=metadata, geometry_type=_geometry_type(review),
            )  # fmt: skip
            styles.embed_style(staged, styles.review_qml(), LAYER)
        move_into_place(staged, path, overwrite=overwrite, with_style=False)


def _geometry_type(review: gpd.GeoDataFrame) -> str:
    """``Polygon`` where every change is one (as vectorize makes them), else ``MultiPolygon``."""
    return "Polygon" if (review.geom_type == "Polygon").all() else "MultiPolygon"


def read_review(path: str | os.PathLike) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """The review layer at ``path`` and its metadata, statuses checked.

    Raises:
        InvalidInputError: Not a review layer of ``geonoise fix``, or a status that is
            none of :data:`STATUSES` (naming them).
    """
    import pyogrio

    try:
        metadata = pyogrio.read_info(path, layer=LAYER)["layer_metadata"] or {}
    except Exception as exc:  # pyogrio raises its own types for a missing file or layer
        raise InvalidInputError(
            f"{path} is not a review layer of geonoise fix (no layer {LAYER!r}: "
            f"{io.first_line(exc)})",
            "--apply",
        ) from exc
    review = io.read_vector(path, layer=LAYER)
    missing = [c for c in ("to_class", "status", "label_feature") if c not in review.columns]
    if missing or MODE_KEY not in metadata:
        what = f"columns {', '.join(missing)}" if missing else "the metadata of its labels"
        raise InvalidInputError(f"{path} is not a review layer of geonoise fix: it lacks {what}",
                                "--apply")  # fmt: skip
    status = review["status"].fillna("").astype(str).str.strip().str.lower()
    unknown = sorted(set(status) - set(STATUSES))
    if unknown:
        raise InvalidInputError(
            f"{path} has status {', '.join(repr(s) for s in unknown)}; set each change's "
            f"status to {', '.join(STATUSES)}",
            "--apply",
        )
    return review.assign(status=status), metadata


def check_belongs(
    metadata: dict[str, str], expected: dict[str, str], review_path: str, labels_path: str
) -> None:
    """Refuse a review layer proposed for other labels (another grid, feature count or kind).

    Raises:
        InvalidInputError: The metadata differs from ``expected`` (exit 2).
    """
    for key in (MODE_KEY, SHAPE_KEY):
        if metadata.get(key) != expected[key]:
            raise InvalidInputError(
                f"{review_path} was proposed for {metadata.get(LABELS_KEY, 'other labels')} "
                f"({metadata.get(MODE_KEY)} labels, {metadata.get(SHAPE_KEY)}), not for "
                f"{labels_path} ({expected[MODE_KEY]} labels, {expected[SHAPE_KEY]}); apply "
                "it to the labels it was proposed for",
                "--apply",
            )
