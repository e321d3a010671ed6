"""Changes applied to raster labels: a corrected copy on the labels' grid, in their profile.

The changes' polygons are burned onto the labels' grid (a pixel belongs to a
polygon where its centre lies inside, as the pixel outlines vectorize makes
them come back exactly); the pixels they cover take the change's
``to_class``, ignore pixels (nodata, 255) aside. The copy keeps the labels'
data type, nodata, band description, colour table and tags, and the style
beside them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.labels import class_ids
from geonoise.io import styles

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass
class LabelRaster:
    """A label raster read whole: its values as stored, class ids and what a copy keeps."""

    path: str
    values: np.ndarray
    ids: np.ndarray
    profile: dict[str, Any]

    @property
    def shape_key(self) -> str:
        """Its grid in words (size, transform, CRS): what a review layer is checked against."""
        from geonoise.data.labels import crs_name

        t = self.profile["transform"]
        terms = " ".join(f"{v:.10g}" for v in tuple(t)[:6])
        width, height = self.profile["width"], self.profile["height"]
        return f"{width}x{height} pixels, transform {terms}, {crs_name(self.profile['crs'])}"


def read_label_raster(path: str | os.PathLike) -> LabelRaster:
    """The label raster at ``path``, band 1, with what a corrected copy keeps of it."""
    with io.open_scene(path) as src:
        values = src.read(1)
        profile = {
            "width": src.width, "height": src.height, "dtype": src.dtypes[0], "crs": src.crs,
            "transform": src.transform, "nodata": src.nodata,
            "description": src.descriptions[0], "tags": src.tags(1),
            "colormap": _colormap(src),
        }  # fmt: skip
    return LabelRaster(str(path), values, class_ids(values, profile["nodata"], str(path)), profile)


def _colormap(src: Any) -> dict[int, tuple[int, ...]] | None:
    try:
        return src.colormap(1)
    except ValueError:  # no colour table
        return None


def apply_to_raster(labels: LabelRaster, changes: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """The labels' values with the ``changes`` (in their CRS) applied, and the pixels changed."""
    from rasterio.features import rasterize

    values = labels.values.copy()
    if not len(changes):
        return values, 0
    shape = labels.values.shape
    burned = rasterize(
        zip(changes.geometry, changes["to_class"].astype(int), strict=True), out_shape=shape,
        transform=labels.profile["transform"], fill=IGNORE, dtype="uint8",
    )  # fmt: skip
    changed = (burned != IGNORE) & (labels.ids != IGNORE) & (burned != labels.ids)
    values[changed] = burned[changed].astype(values.dtype)
    return values, int(changed.sum())


def check_raster_outputs(labels_path: str | os.PathLike, output: Path, overwrite: bool) -> None:
    """Refuse an output that is no GeoTIFF, or that exists (with its style) without
    ``overwrite``."""
    from geonoise.errors import InvalidInputError

    if output.suffix.lower() not in (".tif", ".tiff"):
        raise InvalidInputError(
            f"{output}: raster labels are fixed into a GeoTIFF (.tif)", "--output"
        )
    io.check_output(output, overwrite)
    if styles.style_path(labels_path).is_file():
        io.check_output(styles.style_path(output), overwrite)


def write_label_raster(
    labels: LabelRaster, values: np.ndarray, output: str | os.PathLike, *, overwrite: bool
) -> None:
    """Write ``values`` as a copy of ``labels`` (profile, nodata, description, colours, tags)
    at ``output``, and the labels' ``.qml`` beside it, each moved into place whole."""
    p = labels.profile
    with (
        io.atomic_output(output, overwrite) as staged,
        io.create_raster(
            staged,
            width=p["width"],
            height=p["height"],
            count=1,
            dtype=p["dtype"],
            crs=p["crs"],
            transform=p["transform"],
            nodata=p["nodata"],
            descriptions=[p["description"] or "fixed label"],
        ) as dst,
    ):
        dst.write(values, 1)
        dst.update_tags(1, **p["tags"])
        if p["colormap"]:
            dst.write_colormap(1, p["colormap"])
    qml = styles.style_path(labels.path)
    if qml.is_file():
        with io.atomic_output(styles.style_path(output), overwrite) as staged:
            shutil.copyfile(qml, staged)
