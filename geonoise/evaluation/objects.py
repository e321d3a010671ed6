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
    polygons, truth = _comparable(polygons, truth, name)
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


def _comparable(
    polygons: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, name: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``polygons`` in the CRS of ``truth``, both with only their valid areal features."""
    return _areal(_to_crs_of(polygons, truth, name)), _areal(truth)


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


#: Most cut-offs an object curve is computed at (quantiles of the scores beyond that).
MAX_CUTOFFS = 200


@dataclass(frozen=True)
class ObjectCurve:
    """Object precision and recall as the polygons are cut at their score.

    Keeping the polygons whose ``score_column`` is at least ``cutoffs[i]`` gives
    ``polygons[i]`` polygons with ``precision[i]`` and ``recall[i]`` (as
    :func:`object_metrics` scores them); cut-offs run from low (every polygon)
    to high. ``precision_at_recall`` is the best precision among the cut-offs
    whose recall reaches ``recall_floor``, at ``cutoff_at_recall`` (None where
    no cut-off reaches it).
    """

    score_column: str
    cutoffs: list[float]
    polygons: list[int]
    precision: list[float | None]
    recall: list[float]
    recall_floor: float
    precision_at_recall: float | None
    cutoff_at_recall: float | None

    def to_dict(self) -> dict[str, object]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def object_curve(
    polygons: gpd.GeoDataFrame,
    truth: gpd.GeoDataFrame,
    score_column: str = "mean_score",
    min_cover: float = 0.5,
    recall_floor: float = 0.8,
    name: str = "the polygons",
) -> ObjectCurve | None:
    """Object precision and recall against a cut-off on the polygons' score (see ObjectCurve).

    A polygon's correctness does not depend on the cut-off; an object's cover
    does, so it is recomputed at each cut-off (the distinct scores, or
    :data:`MAX_CUTOFFS` quantiles of them). None where the polygons lack
    ``score_column`` or there are no polygons or truth objects.
    """
    if score_column not in polygons or not len(polygons) or not len(truth):
        return None
    polygons, truth = _comparable(polygons, truth, name)
    scores = polygons[score_column].to_numpy(float)
    cutoffs = np.unique(scores[np.isfinite(scores)])
    if len(cutoffs) > MAX_CUTOFFS:
        cutoffs = np.unique(np.quantile(cutoffs, np.linspace(0, 1, MAX_CUTOFFS)))
    objects, shapes = truth.geometry.to_numpy(), polygons.geometry.to_numpy()
    correct = covered_share(shapes, objects) >= min_cover
    kept_counts, precision, recall = [], [], []
    for cutoff in cutoffs:
        kept = scores >= cutoff
        kept_counts.append(int(kept.sum()))
        precision.append(float(correct[kept].mean()) if kept.any() else None)
        recall.append(float((covered_share(objects, shapes[kept]) >= min_cover).mean()))
    reaching = [i for i, r in enumerate(recall) if r >= recall_floor and precision[i] is not None]
    best = max(reaching, key=lambda i: (precision[i], cutoffs[i]), default=None)
    return ObjectCurve(
        score_column=score_column,
        cutoffs=cutoffs.tolist(),
        polygons=kept_counts,
        precision=precision,
        recall=recall,
        recall_floor=recall_floor,
        precision_at_recall=None if best is None else precision[best],
        cutoff_at_recall=None if best is None else float(cutoffs[best]),
    )
