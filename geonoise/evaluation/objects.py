"""Object metrics: suspect polygons against the truth objects of the noise.

A truth object (e.g. a row of ``noise_objects.gpkg`` of ``geonoise synth``) is
*found* when the union of the polygons covers at least ``min_cover`` of its
area; a polygon is *correct* when at least ``min_cover`` of its area lies inside
the union of the truth objects. Recall = found / truth objects, precision =
correct / polygons; areas are taken in the truth objects' CRS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from geonoise.errors import GeoreferenceError

if TYPE_CHECKING:
    import geopandas as gpd

#: Name of the truth objects ``geonoise synth`` writes beside ``noise_truth.tif``.
TRUTH_OBJECTS_NAME = "noise_objects.gpkg"


class KindRecall(TypedDict):
    """Recall of the truth objects of one ``kind``."""

    objects: int
    found: int
    recall: float


@dataclass(frozen=True)
class ObjectMetrics:
    """Object-level recall and precision (see the module docstring).

    ``recall`` is None without truth objects, ``precision`` None without polygons.
    ``by_kind`` holds objects, found and recall per truth ``kind`` where the
    truth objects have that column.
    """

    truth_objects: int
    found: int
    recall: float | None
    polygons: int
    correct: int
    precision: float | None
    f1: float | None
    min_cover: float
    by_kind: dict[str, KindRecall]

    def to_dict(self) -> dict[str, int | float | dict[str, KindRecall] | None]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def truth_objects_for(truth_path: str | os.PathLike) -> str | None:
    """The truth objects ``geonoise synth`` wrote beside ``truth_path``, where they exist."""
    candidate = Path(truth_path).with_name(TRUTH_OBJECTS_NAME)
    return str(candidate) if candidate.exists() else None


def object_metrics(
    polygons: gpd.GeoDataFrame,
    truth: gpd.GeoDataFrame,
    min_cover: float = 0.5,
    name: str = "the polygons",
) -> ObjectMetrics:
    """Recall of the truth objects and precision of the polygons (see the module docstring).

    ``polygons`` are reprojected to the CRS of ``truth`` where they differ.
    Features without area (empty, points, lines) are left out. ``name`` names
    the polygons in error messages.

    Raises:
        GeoreferenceError: The polygons do not reproject to finite coordinates
            (their CRS is wrong, e.g. metres in a GeoJSON read as degrees).
    """
    polygons = _to_crs_of(polygons, truth, name)
    polygons, truth = _areal(polygons), _areal(truth)
    objects, shapes = truth.geometry.to_numpy(), polygons.geometry.to_numpy()
    found = covered_share(objects, shapes) >= min_cover
    correct = covered_share(shapes, objects) >= min_cover
    recall = float(found.mean()) if len(found) else None
    precision = float(correct.mean()) if len(correct) else None
    return ObjectMetrics(
        truth_objects=len(found),
        found=int(found.sum()),
        recall=recall,
        polygons=len(correct),
        correct=int(correct.sum()),
        precision=precision,
        f1=_f1(precision, recall),
        min_cover=min_cover,
        by_kind=_recall_by_kind(truth, found),
    )


def _to_crs_of(polygons: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """``polygons`` in the CRS of ``truth`` (unchanged where either has none or they agree).

    Raises:
        GeoreferenceError: The reprojected coordinates are not finite.
    """
    if polygons.crs is None or truth.crs is None or polygons.crs == truth.crs:
        return polygons
    source = polygons.crs
    polygons = polygons.to_crs(truth.crs)
    if len(polygons) and not np.isfinite(polygons.total_bounds).all():
        raise GeoreferenceError(
            f"{name} do not reproject from {source.to_string()} to the truth objects' "
            f"{truth.crs.to_string()} (coordinates outside the CRS's range); check the CRS "
            "they declare (GeoJSON is always read as EPSG:4326)"
        )
    return polygons


def _areal(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features with a valid geometry of positive area (points and lines dropped)."""
    import shapely

    geoms = gdf.geometry.to_numpy()
    geoms = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    keep = shapely.area(geoms) > 0
    return gdf.loc[keep].set_geometry(geoms[keep], crs=gdf.crs)


def covered_share(targets: np.ndarray, covers: np.ndarray) -> np.ndarray:
    """Share of each target geometry's area that the union of ``covers`` covers.

    Pairs come from an STRtree; where several covers meet one target, their
    pieces are unioned first, so overlapping covers are not counted twice.
    """
    import geopandas as gpd
    import shapely

    area = shapely.area(targets)
    covered = np.zeros(len(targets))
    if len(targets) and len(covers):
        target, cover = shapely.STRtree(covers).query(targets, predicate="intersects")
        pieces = shapely.intersection(targets[target], covers[cover])
        shared = np.bincount(target, minlength=len(targets))[target] > 1
        covered += np.bincount(
            target[~shared], weights=shapely.area(pieces[~shared]), minlength=len(targets)
        )
        if shared.any():
            merged = gpd.GeoDataFrame({"target": target[shared]}, geometry=pieces[shared])
            merged = merged.dissolve(by="target")
            covered[merged.index.to_numpy()] += merged.area.to_numpy()
    return np.clip(np.divide(covered, area, out=np.zeros_like(covered), where=area > 0), 0, 1)


def _f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean of precision and recall; None where either is undefined, 0 where both are 0."""
    if recall is None or precision is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _recall_by_kind(truth: gpd.GeoDataFrame, found: np.ndarray) -> dict[str, KindRecall]:
    """Objects, found and recall per truth ``kind``, in sorted order; empty without that column."""
    if "kind" not in truth:
        return {}
    return {
        kind: {"objects": len(hits), "found": int(hits.sum()), "recall": float(hits.mean())}
        for kind, hits in _groups(truth["kind"].astype(str).to_numpy(), found)
    }


def _groups(keys: np.ndarray, values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``values`` grouped by ``keys``, groups in sorted key order."""
    order = np.argsort(keys, kind="stable")
    names, starts = np.unique(keys[order], return_index=True)
    return list(zip(names.tolist(), np.split(values[order], starts[1:]), strict=True))
