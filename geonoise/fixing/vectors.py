"""Changes applied to vector labels: features cut, joined, removed or added, attributes kept.

Every accepted change, in order:

* is cut out of the features of another class that it overlaps (a change
  towards the background cuts only);
* towards a class: is joined to its ``label_feature`` where that feature has
  this class, or else added as a new feature of this class (its attributes
  empty but the class field).

A feature that has lost more than :data:`REMOVE_SHARE` of its area is then
removed whole (a spurious feature mostly covered by its change leaves no
crumbs), and parts smaller than :data:`CRUMB_PIXELS` pixels are dropped
where label outlines and pixel edges do not line up. The layer keeps its
columns, CRS, layer name and style.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.data.labels import crs_name, feature_class_values
from geonoise.io import styles
from geonoise.io.vectors import data_layer
from geonoise.vectorize.geometry import valid_polygons
from geonoise.vectorize.writer import check_vector_output, move_into_place

if TYPE_CHECKING:
    import geopandas as gpd

#: A feature that loses more than this share of its area to changes is removed whole.
REMOVE_SHARE = 0.5
#: Parts of a cut or joined feature smaller than this many pixels are dropped.
CRUMB_PIXELS = 1.0


@dataclass
class LabelLayer:
    """Vector labels read whole: the features, their classes, layer name and style."""

    path: str
    frame: gpd.GeoDataFrame
    classes: np.ndarray
    class_field: str | None
    layer: str | None
    style: str | None

    @property
    def shape_key(self) -> str:
        """The layer in words (feature count, CRS): what a review layer is checked against."""
        return f"{len(self.frame)} features, {crs_name(self.frame.crs)}"


def read_label_layer(path: str | os.PathLike, class_field: str | None) -> LabelLayer:
    """The vector labels at ``path``; their classes from ``class_field`` (None: all 1).

    Raises:
        InvalidInputError: ``class_field`` is missing or holds no class ids.
        ReadError: The file cannot be read.
    """
    layer = data_layer(path)
    frame = io.read_vector(path, layer=layer)
    if layer is not None:
        style = styles.embedded_style(path, layer)
    else:
        qml = styles.style_path(path)
        style = qml.read_text(encoding="utf-8") if qml.is_file() else None
    classes = feature_class_values(frame, str(path), class_field)
    return LabelLayer(str(path), frame, classes, class_field, layer, style)


def label_features(layer: LabelLayer, changes: gpd.GeoDataFrame) -> np.ndarray:
    """Per change (in the labels' CRS), the feature it concerns (1-based row), 0 where none.

    A change towards the background concerns the feature of a class it overlaps most; one
    towards a class, the feature of that class it touches most (within half a pixel);
    a building the label misses touches none.
    """
    import shapely

    found = np.zeros(len(changes), np.int64)
    if not len(changes) or not len(layer.frame):
        return found
    to_class = changes["to_class"].to_numpy(int)
    pixel = np.sqrt(shapely.area(changes.geometry.values) / changes["pixels"].to_numpy(float))
    reach = shapely.buffer(changes.geometry.values, np.where(to_class > 0, pixel / 2, 0))
    pairs = layer.frame.sindex.query(reach, predicate="intersects")
    change, feature = pairs
    wanted = np.where(to_class[change] > 0, layer.classes[feature] == to_class[change],
                      layer.classes[feature] > 0)  # fmt: skip
    change, feature = change[wanted], feature[wanted]
    overlap = shapely.area(
        shapely.intersection(reach[change], layer.frame.geometry.values[feature])
    )
    for i in np.argsort(overlap, kind="stable"):  # the largest overlap written last wins
        found[change[i]] = feature[i] + 1
    return found


def apply_to_layer(
    layer: LabelLayer, changes: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The labels with ``changes`` (in their CRS, with ``label_feature``) applied, and the
    features removed, added and reshaped."""
    import pandas as pd
    import shapely

    geoms = layer.frame.geometry.values.copy()
    classes = layer.classes
    touched: set[int] = set()
    added: list[tuple[object, int]] = []
    crumbs = []
    for change in changes.itertuples():
        shape, target = change.geometry, int(change.to_class)
        crumbs.append(CRUMB_PIXELS * shape.area / max(int(change.pixels), 1))
        for f in layer.frame.sindex.query(shape, predicate="intersects"):
            if classes[f] != target and classes[f] > 0:
                geoms[f] = shapely.difference(geoms[f], shape)
                touched.add(int(f))
        owner = -1 if pd.isna(change.label_feature) else int(change.label_feature) - 1
        if target > 0 and 0 <= owner < len(geoms) and classes[owner] == target:
            geoms[owner] = shapely.union(geoms[owner], shape)
            touched.add(owner)
        elif target > 0:
            added.append((shape, target))
    rows = np.array(sorted(touched), dtype=np.int64)
    geoms[rows] = _without_crumbs(geoms[rows], float(np.median(crumbs)) if crumbs else 0.0)
    lost = shapely.area(geoms[rows]) < (1 - REMOVE_SHARE) * shapely.area(
        layer.frame.geometry.values[rows]
    )
    removed = rows[lost]
    frame = layer.frame.set_geometry(geoms).drop(index=layer.frame.index[removed])
    counts = {"removed": len(removed), "added": len(added), "reshaped": int((~lost).sum())}
    return _with_new_features(frame, added, layer.class_field), counts


def _without_crumbs(geoms: np.ndarray, min_area: float) -> np.ndarray:
    """Valid polygons without parts smaller than ``min_area``."""
    import shapely

    kept = []
    for geom in valid_polygons(geoms):
        parts = [p for p in shapely.get_parts(geom) if p.area >= min_area]
        kept.append(
            shapely.multipolygons(parts) if len(parts) > 1 else (parts or [shapely.Polygon()])[0]
        )
    return np.array(kept, dtype=object)


def _with_new_features(
    frame: gpd.GeoDataFrame, added: list[tuple[object, int]], class_field: str | None
) -> gpd.GeoDataFrame:
    """``frame`` with the ``added`` (polygon, class) as new rows, attributes empty but the
    class; integer columns become nullable so that they stay integers."""
    import geopandas as gpd
    import pandas as pd

    if not added:
        return frame
    geometry = frame.geometry.name
    columns = {class_field: [c for _, c in added]} if class_field else {}
    columns[geometry] = gpd.GeoSeries([g for g, _ in added], crs=frame.crs)
    new = gpd.GeoDataFrame(columns, geometry=geometry, crs=frame.crs)
    whole = frame.astype({c: "Int64" for c in frame.columns if frame[c].dtype.kind in "iu"})
    return gpd.GeoDataFrame(pd.concat([whole, new], ignore_index=True), crs=frame.crs)


def check_vector_outputs(layer_path: str | os.PathLike, output: Path, overwrite: bool) -> None:
    """Refuse an output in no vector format, or that exists (with its ``.qml``) without
    ``overwrite``."""
    check_vector_output(output)
    io.check_output(output, overwrite)
    if not styles.embeds_style(output):
        io.check_output(styles.style_path(output), overwrite)


def write_label_layer(
    layer: LabelLayer, frame: gpd.GeoDataFrame, output: str | os.PathLike, *, overwrite: bool
) -> None:
    """Write the fixed ``frame`` at ``output`` (format by suffix) with the labels' layer name
    and style, its files moved into place whole."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as scratch:
        staged = Path(scratch) / output.name
        io.write_vector(frame, staged, layer=layer.layer or output.stem, style=layer.style)
        move_into_place(staged, output, overwrite=overwrite, with_style=False)
