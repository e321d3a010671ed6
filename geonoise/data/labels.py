"""Labels reconciled with a scene's pixel grid, read window by window.

Labels come as a raster or as vector features. Either way a :class:`LabelSource`
answers one question: the uint8 class ids (255 = ignore) of a scene window.
Tiling and detection both read labels through it, so both reconcile labels with
scenes the same way:

* a raster on the scene's grid, or on a grid aligned with it (same CRS and
  pixel size, whole-pixel offset), is read directly;
* any other raster is refused unless resampling is asked for, in which case it
  is warped (nearest neighbour) onto the scene grid by GDAL;
* vector features are reprojected to the scene CRS and burned per window with
  :func:`rasterio.features.rasterize`.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.errors import GeonoiseError, GeoreferenceError, InvalidInputError, NoOverlapError

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio
    from pyproj import CRS
    from rasterio.io import DatasetReader
    from rasterio.windows import Window as RioWindow
    from shapely import Polygon

logger = logging.getLogger(__name__)


class LabelSource(Protocol):
    """Class ids of scene windows."""

    path: str

    def read(self, window: RioWindow) -> np.ndarray:
        """uint8 class ids of ``window`` on the scene grid; 255 where unlabelled."""

    def close(self) -> None:
        """Release the files behind the source."""


class LabelReading(Protocol):
    """How labels are read, as ``tile`` and ``detect`` both take it from their options."""

    class_field: str | None
    all_touched: bool
    resample_labels: bool


def open_labels_as(path: str, scene: DatasetReader, reading: LabelReading) -> LabelSource:
    """:func:`open_labels` with the class field, burning and resampling of ``reading``."""
    return open_labels(
        path,
        scene,
        class_field=reading.class_field,
        all_touched=reading.all_touched,
        resample=reading.resample_labels,
    )


def pair_labels(scenes: Sequence[str], labels: Sequence[str]) -> list[str | None]:
    """The label source of each scene: one per scene in order, one for all, or none.

    Raises:
        InvalidInputError: another number of label sources than 0, 1 or one per scene.
    """
    if not labels:
        return [None] * len(scenes)
    if len(labels) not in (1, len(scenes)):
        raise InvalidInputError(
            f"{len(labels)} label sources for {len(scenes)} scenes; give one "
            "per scene (in the same order) or one for all",
            "--labels",
        )
    return list(labels) if len(labels) > 1 else [labels[0]] * len(scenes)


def open_labels(
    path: str,
    scene: rasterio.io.DatasetReader,
    *,
    class_field: str | None = None,
    all_touched: bool = False,
    resample: bool = False,
) -> LabelSource:
    """Open ``path`` as labels for ``scene``: a raster, or a vector file by its suffix.

    Raises:
        InvalidInputError: ``class_field`` is missing or not whole numbers in 0..254.
        GeoreferenceError: the labels have no CRS, or sit on another grid without ``resample``.
        NoOverlapError: the labels do not overlap the scene.
        ReadError: the file cannot be read.
    """
    if io.is_vector_path(path):
        return VectorLabels(path, scene, class_field=class_field, all_touched=all_touched)
    if class_field is not None:
        raise InvalidInputError(
            f"{path} is a raster; --class-field is for vector labels", option="--class-field"
        )
    return RasterLabels(path, scene, resample=resample)


class RasterLabels:
    """A label raster read on the scene grid (directly when aligned, else warped)."""

    def __init__(self, path: str, scene: rasterio.io.DatasetReader, *, resample: bool) -> None:
        self.path = path
        self._dataset = io.open_scene(path)
        try:
            self._check(scene, resample)
        except Exception:
            self._dataset.close()
            raise

    def _check(self, scene: rasterio.io.DatasetReader, resample: bool) -> None:
        from rasterio.vrt import WarpedVRT
        from rasterio.warp import Resampling

        labels = self._dataset
        dtype = np.dtype(labels.dtypes[0])
        if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
            raise InvalidInputError(
                f"{self.path} holds {labels.dtypes[0]} values; labels must be a raster of "
                "class ids 0..254 (integers, or floats holding whole numbers)",
                option="--labels",
            )
        _require_overlap(_raster_bounds_in(labels, scene.crs), scene, self.path)
        if labels.nodata == 0:
            logger.warning(
                "%s declares nodata=0, so its class 0 becomes ignore (255); "
                "unset it (gdal_edit.py -unsetnodata) if 0 is background",
                self.path,
            )
        self._offset = _grid_offset(labels, scene)
        if self._offset is not None:
            self._source = labels
        elif resample:
            self._source = WarpedVRT(
                labels,
                crs=scene.crs,
                transform=scene.transform,
                width=scene.width,
                height=scene.height,
                resampling=Resampling.nearest,
                nodata=IGNORE,
            )
            self._offset = (0, 0)
        else:
            raise GeoreferenceError(
                f"{self.path} is not on the pixel grid of {scene.name} (CRS, pixel size or "
                "alignment differ); pass --resample-labels to resample it (nearest) onto it"
            )

    def read(self, window: RioWindow) -> np.ndarray:
        from rasterio.windows import Window

        col, row = self._offset
        shifted = Window(window.col_off + col, window.row_off + row, window.width, window.height)
        values = io.read_window(self._source, shifted, indexes=1, fill_value=IGNORE)

        def where(r: int, c: int) -> str:
            row, col = int(shifted.row_off) + r, int(shifted.col_off) + c
            x, y = self._source.xy(row, col)
            return f"row {row}, column {col} (x {x:.2f}, y {y:.2f})"

        return class_ids(values, self._source.nodata, self.path, where)

    def close(self) -> None:
        if self._source is not self._dataset:
            self._source.close()
        self._dataset.close()


def class_ids(
    values: np.ndarray,
    nodata: float | None,
    source: str,
    where: Callable[[int, int], str] | None = None,
) -> np.ndarray:
    """Label values as uint8 class ids, 255 where there is no label (nodata, NaN, 255).

    Integer and float rasters alike: a float raster must hold whole numbers.

    Raises:
        InvalidInputError: a labelled pixel is not a whole class id 0..254; the message
            names the first such value and ``where(row, col)`` it is.
    """
    ignore = values == IGNORE
    floating = np.issubdtype(values.dtype, np.floating)
    if floating:
        ignore |= np.isnan(values)
    if nodata is not None:
        ignore |= np.isnan(values) if np.isnan(nodata) else values == nodata
    bad = ~ignore & ((values < 0) | (values > IGNORE - 1))
    if floating:
        bad |= ~ignore & (values != np.floor(values))
    if bad.any():
        r, c = (int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], bad.shape))
        shown = f"{values[r, c]:g}" if floating else str(values[r, c])
        place = where(r, c) if where is not None else f"row {r}, column {c}"
        raise InvalidInputError(
            f"{source} has class value {shown} at {place}; labels must be whole class ids "
            "0..254 (255 = ignore)",
            option="--labels",
        )
    out = np.where(ignore, 0, values).astype(np.uint8)
    out[ignore] = IGNORE
    return out


class VectorLabels:
    """Vector features reprojected to the scene CRS and burned window by window."""

    def __init__(
        self,
        path: str,
        scene: rasterio.io.DatasetReader,
        *,
        class_field: str | None,
        all_touched: bool,
    ) -> None:
        self.path = path
        self._all_touched = all_touched
        self._transform = scene.transform
        self._features = _prepare_features(io.read_vector(path), path, scene, class_field)
        self._index = self._features.sindex

    def read(self, window: RioWindow) -> np.ndarray:
        from rasterio.features import rasterize
        from rasterio.windows import bounds, transform

        shape = (int(window.height), int(window.width))
        hits = self._index.query(_box(bounds(window, self._transform)))
        if not len(hits):
            return np.zeros(shape, np.uint8)
        chosen = self._features.iloc[np.sort(hits)]  # file order: later features win
        return rasterize(
            zip(chosen.geometry, chosen["_class"], strict=True),
            out_shape=shape,
            transform=transform(window, self._transform),
            fill=0,
            all_touched=self._all_touched,
            dtype="uint8",
        )

    def close(self) -> None:
        """Nothing to release: the features are in memory."""


def _prepare_features(
    features: gpd.GeoDataFrame, path: str, scene: DatasetReader, class_field: str | None
) -> gpd.GeoDataFrame:
    """Valid, non-empty features in the scene CRS with their class id in ``_class``."""
    if features.crs is None:
        raise GeoreferenceError(f"{path} has no CRS; set one (e.g. ogr2ogr -a_srs EPSG:4326)")
    features = features[features.geometry.notna() & ~features.geometry.is_empty]
    if features.empty:
        raise NoOverlapError(f"{path} has no features to burn")
    classes = feature_class_values(features, path, class_field)
    with reprojecting(path, features.crs, scene.crs):
        features = features.assign(_class=classes)[["_class", "geometry"]].to_crs(scene.crs)
    _require_overlap(tuple(features.total_bounds), scene, path)
    return features


def feature_class_values(
    features: gpd.GeoDataFrame, path: str, class_field: str | None
) -> np.ndarray:
    """The class id of each feature of vector labels: ``class_field``, or 1 without one.

    Raises:
        InvalidInputError: the field is missing or holds other than whole ids 0..254.
    """
    if class_field is None:
        return np.ones(len(features), np.uint8)
    if class_field not in features.columns:
        fields = ", ".join(c for c in features.columns if c != features.geometry.name)
        raise InvalidInputError(
            f"{path} has no field {class_field!r} (fields: {fields or 'none'})",
            option="--class-field",
        )
    import pandas as pd

    numeric = pd.to_numeric(features[class_field], errors="coerce").to_numpy(dtype=float)
    ok = (
        not np.isnan(numeric).any()
        and np.all(np.mod(numeric, 1) == 0)
        and numeric.min() >= 0
        and numeric.max() <= IGNORE - 1
    )
    if not ok:
        raise InvalidInputError(
            f"field {class_field!r} of {path} must hold whole class ids 0..254 in every feature",
            option="--class-field",
        )
    return numeric.astype(np.uint8)


def _raster_bounds_in(dataset: DatasetReader, crs: CRS) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    with reprojecting(dataset.name, dataset.crs, crs):
        return tuple(transform_bounds(dataset.crs, crs, *dataset.bounds))


@contextlib.contextmanager
def reprojecting(path: str, source: object, target: object) -> Iterator[None]:
    """Errors of reprojecting ``path`` from CRS ``source`` to ``target`` as GeoreferenceError.

    A local (engineering) CRS has no datum, so nothing relates it to a geographic
    or projected one (PROJ's "Cannot find coordinate operations"): labels and
    scenes must then all be in that same local CRS.
    """
    try:
        yield
    except GeonoiseError:
        raise
    except Exception as exc:  # pyproj and GDAL raise their own types
        raise GeoreferenceError(
            f"cannot reproject {path} from {crs_name(source)} to {crs_name(target)}: no "
            "coordinate operation relates them (a local, engineering CRS relates to no "
            "other); give all files in one CRS"
        ) from exc


def crs_name(crs: object) -> str:
    """A short name of a CRS (rasterio's or pyproj's), e.g. ``WGS 84 / UTM zone 33N``."""
    from pyproj import CRS as ProjCRS

    try:
        return ProjCRS.from_user_input(getattr(crs, "to_wkt", lambda: crs)()).name
    except Exception:  # a CRS pyproj cannot read: its own words
        return str(crs)[:80]


def _require_overlap(bounds: tuple[float, ...], scene: DatasetReader, path: str) -> None:
    left, bottom, right, top = scene.bounds
    if not (bounds[0] < right and bounds[2] > left and bounds[1] < top and bounds[3] > bottom):
        raise NoOverlapError(
            f"{path} does not overlap {scene.name} (labels bounds "
            f"{_fmt(bounds)}, scene bounds {_fmt(scene.bounds)} in the scene CRS)"
        )


def _grid_offset(labels: DatasetReader, scene: DatasetReader) -> tuple[int, int] | None:
    """(col, row) of the scene origin on the labels grid when both grids align, else None."""
    if labels.crs != scene.crs:
        return None
    a, b = labels.transform, scene.transform
    if not all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        for x, y in zip((a.a, a.b, a.d, a.e), (b.a, b.b, b.d, b.e), strict=True)
    ):
        return None
    col, row = ~a @ (b.c, b.f)
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(col), round(row)


def _box(bounds: tuple[float, float, float, float]) -> Polygon:
    from shapely import box

    return box(*bounds)


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"


__all__ = ["IGNORE", "LabelSource", "RasterLabels", "VectorLabels", "open_labels"]
