"""How much label noise a fix removes: fixed labels against the noisy and the clean ones.

Three label rasters on one grid: the noisy labels a fix started from, the fixed
labels it wrote and the clean truth. A pixel is *noisy* where the noisy label
differs from the clean one; it is *corrected* where it is noisy and the fixed
label equals the clean one; it is a *new error* where the noisy label was right
and the fixed one is wrong. Pixels whose clean label is ``ignore`` are left out.

With the truth objects of the noise (``noise_objects.gpkg`` of ``geonoise
synth``), an object is *corrected* when at least ``min_cover`` of the noisy
pixels inside its footprint are corrected; objects without a noisy pixel (all
of it outside the grid, or smaller than a pixel) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError

if TYPE_CHECKING:
    import geopandas as gpd
    from affine import Affine


class KindFixed(TypedDict):
    """Noise objects of one ``kind``: how many, how many corrected, their share."""

    objects: int
    corrected: int
    share: float


@dataclass(frozen=True)
class FixMetrics:
    """Pixels and objects a fix corrected, and the errors it introduced (module docstring).

    ``corrected_share`` is corrected / noisy pixels; ``new_error_ratio`` new
    errors / corrected pixels (the issue's "fewer than a fifth" is < 0.2); both
    None where their denominator is 0. The object fields are None or empty
    without truth objects.
    """

    noisy_pixels: int
    corrected: int
    new_errors: int
    errors_after: int
    corrected_share: float | None
    new_error_ratio: float | None
    objects: int | None
    objects_corrected: int | None
    objects_share: float | None
    by_kind: dict[str, KindFixed]
    min_cover: float

    def to_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def fix_metrics(
    noisy: np.ndarray,
    fixed: np.ndarray,
    clean: np.ndarray,
    objects: gpd.GeoDataFrame | None = None,
    transform: Affine | None = None,
    min_cover: float = 0.5,
) -> FixMetrics:
    """Pixels (and objects) a fix corrected and the new errors it made (module docstring).

    Args:
        noisy: The labels the fix started from.
        fixed: The labels it wrote, on the same grid.
        clean: The clean truth, on the same grid (``IGNORE`` = not scored).
        objects: Truth objects of the noise in the grid's CRS, with an optional
            ``kind`` column.
        transform: The grid's transform; needed with ``objects``.
        min_cover: Share of an object's noisy pixels that must be corrected.

    Raises:
        InvalidInputError: The rasters differ in shape, or objects come without
            a transform.
    """
    if not noisy.shape == fixed.shape == clean.shape:
        raise InvalidInputError(
            f"the noisy {noisy.shape}, fixed {fixed.shape} and clean {clean.shape} labels "
            "must lie on one grid"
        )
    scored = clean != IGNORE
    was_wrong = (noisy != clean) & scored
    now_right = (fixed == clean) & scored
    corrected = was_wrong & now_right
    new_errors = ~was_wrong & scored & ~now_right
    n_noisy, n_corrected, n_new = (int(a.sum()) for a in (was_wrong, corrected, new_errors))
    share = _share(corrected, was_wrong, objects, transform)
    # objects with a noisy pixel, and which of those are corrected
    counted = None if share is None else ~np.isnan(share)
    found = None if share is None else share[counted] >= min_cover
    kinds = (
        objects["kind"].astype(str).to_numpy()[counted]
        if objects is not None and "kind" in objects
        else None
    )
    return FixMetrics(
        noisy_pixels=n_noisy,
        corrected=n_corrected,
        new_errors=n_new,
        errors_after=int((scored & ~now_right).sum()),
        corrected_share=n_corrected / n_noisy if n_noisy else None,
        new_error_ratio=n_new / n_corrected if n_corrected else None,
        objects=None if found is None else len(found),
        objects_corrected=None if found is None else int(found.sum()),
        objects_share=None if found is None else _mean(found),
        by_kind=_by_kind(kinds, found) if kinds is not None else {},
        min_cover=min_cover,
    )


def _share(
    corrected: np.ndarray,
    was_wrong: np.ndarray,
    objects: gpd.GeoDataFrame | None,
    transform: Affine | None,
) -> np.ndarray | None:
    """Per object: the share of its noisy pixels corrected (NaN: no noisy pixel in it)."""
    if objects is None:
        return None
    if transform is None:
        raise InvalidInputError("truth objects need the grid's transform")
    from types import SimpleNamespace

    from rasterio.errors import WindowError
    from rasterio.features import geometry_mask, geometry_window
    from rasterio.windows import transform as window_transform

    shares = np.full(len(objects), np.nan)
    height, width = corrected.shape
    grid = SimpleNamespace(transform=transform, height=height, width=width)
    for i, geometry in enumerate(objects.geometry):
        if geometry is None or geometry.is_empty:
            continue
        try:
            window = geometry_window(grid, [geometry])
        except WindowError:  # wholly outside the grid
            continue
        rows, cols = window.toslices()
        shape = (int(window.height), int(window.width))
        inside = ~geometry_mask([geometry], shape, window_transform(window, transform))
        noisy = was_wrong[rows, cols] & inside
        if noisy.any():
            shares[i] = (corrected[rows, cols] & inside).sum() / noisy.sum()
    return shares


def _by_kind(kinds: np.ndarray, found: np.ndarray) -> dict[str, KindFixed]:
    """Objects, corrected and share per kind, for the objects with a noisy pixel."""
    out: dict[str, KindFixed] = {}
    for kind in sorted(set(kinds.tolist())):
        hits = found[kinds == kind]
        out[kind] = {"objects": len(hits), "corrected": int(hits.sum()), "share": _mean(hits)}
    return out


def _mean(values: np.ndarray) -> float | None:
    """The mean of ``values``, None where there are none."""
    return float(values.mean()) if values.size else None
