"""Scoring a noise map against the truth of the noise, at three levels.

* **Pixels**: average precision (AP), area under the ROC curve (AUROC) and the
  best F1 with its threshold, of the noise score against the truth mask
  (nonzero = noisy; 255, the truth's nodata and the noise map's nodata are
  ignored), plus precision, recall, F1 and IoU at one operating threshold. The
  rasters are read in blocks and the scores tallied per class into a histogram
  of ``bins`` equal bins on [0, 1], so memory does not grow with the scene. The
  metrics follow scikit-learn's conventions for ties: AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over
  the distinct thresholds from high to low, AUROC by the trapezoidal rule (a
  constant map scores AP = the base rate and AUROC = 0.5). They are exact when
  no bin holds two distinct scores (always for maps with few distinct values;
  with 65,536 bins, scores more than 1/65,536 apart never share one); scores
  sharing a bin count as tied. The best-F1 threshold is the smallest score in
  its bin, so "noisy where score ≥ threshold" reproduces the reported F1 exactly.
* **Objects**: polygons (e.g. from ``geonoise vectorize``) against the truth
  objects (``noise_objects.gpkg`` of ``geonoise synth``). A truth object is
  *found* when the union of the polygons covers at least ``min_cover`` of its
  area (recall = found / truth objects); a polygon is *correct* when at least
  ``min_cover`` of its area lies inside the union of the truth objects
  (precision = correct / polygons). Areas are taken in the truth objects' CRS.
* **Tiles**: for the tiles of a ``geonoise tile`` directory that lie on the noise
  map's grid, the tile score (by default ``1 −`` the softmin of the label
  quality of the tile's evaluated pixels; or their mean; or the score of a
  ``detect --tiles`` ranking) against the true noise fraction of the same
  pixels: Kendall's τ-b and Spearman's ρ.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.tiledir import index_path, read_tile_index, require_tile_dir
from geonoise.detection.scores import TILE_STATISTICS, tile_statistic
from geonoise.errors import GeonoiseError, GeoreferenceError, InvalidInputError
from geonoise.windows import block_grid

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio

logger = logging.getLogger(__name__)

#: Histogram bins on [0, 1] for the pixel metrics (see the module docstring).
DEFAULT_BINS = 2**16

#: Name of the truth objects ``geonoise synth`` writes beside ``noise_truth.tif``.
TRUTH_OBJECTS_NAME = "noise_objects.gpkg"


class EvaluationError(GeonoiseError):
    """Inputs that cannot be scored: no evaluated pixel, no noisy pixel, scores outside [0, 1]."""


@dataclass(frozen=True)
class EvaluateOptions:
    """How a noise map is scored.

    Attributes:
        threshold: Operating point: a pixel is flagged where its score is ≥ this.
        min_cover: Share of a truth object (polygon) that must be covered for it
            to count as found (correct).
        bins: Histogram bins on [0, 1] for AP, AUROC and best F1.
        window_size: Edge of the blocks read at a time.
        tile_scene: Which scene of a tile directory to use, where several lie
            on the noise map's grid (its ``scene`` path, file name or stem).
        tile_score: How a tile's pixel scores make its score: ``mean``,
            ``softmin`` (weighted towards the worst pixels, as cleanlab) or
            ``fraction`` (share at or above ``threshold``); as ``detect --tiles``.
    """

    threshold: float = 0.5
    min_cover: float = 0.5
    bins: int = DEFAULT_BINS
    window_size: int = 2048
    tile_scene: str | None = None
    tile_score: str = "softmin"

    def __post_init__(self) -> None:
        if self.tile_score not in TILE_STATISTICS:
            raise InvalidInputError(
                f"{self.tile_score!r} is not one of {', '.join(TILE_STATISTICS)}", "--tile-score"
            )
        if not 0 <= self.threshold <= 1:
            raise InvalidInputError(f"{self.threshold} is outside 0..1", "--threshold")
        if not 0 < self.min_cover <= 1:
            raise InvalidInputError(f"{self.min_cover} is outside (0, 1]", "--min-cover")
        if not 2 <= self.bins <= 2**24:
            raise InvalidInputError(f"{self.bins} is outside 2..{2**24}", "--bins")
        if self.window_size < 1:
            raise InvalidInputError(f"{self.window_size} is not positive", "--window-size")


# --------------------------------------------------------------------------- pixels


class ScoreHistogram:
    """Scores of noisy and clean pixels, tallied in equal bins on [0, 1].

    Also keeps the smallest score in each bin (the exact threshold that bin
    stands for) and the exact counts at one operating ``threshold``.
    """

    def __init__(self, bins: int = DEFAULT_BINS, threshold: float = 0.5) -> None:
        self.bins = bins
        self.threshold = threshold
        self.noisy = np.zeros(bins, np.int64)
        self.clean = np.zeros(bins, np.int64)
        self.minima = np.full(bins, np.inf)
        self.flagged_noisy = 0
        self.flagged_clean = 0

    def add(self, score: np.ndarray, noisy: np.ndarray) -> None:
        """Tally evaluated pixels: ``score`` in [0, 1] and the truth ``noisy`` (bool), 1-D."""
        score = score.astype(np.float64, copy=False)
        index = np.minimum((score * self.bins).astype(np.int64), self.bins - 1)
        self.noisy += np.bincount(index[noisy], minlength=self.bins)
        self.clean += np.bincount(index[~noisy], minlength=self.bins)
        np.minimum.at(self.minima, index, score)
        flagged = score >= self.threshold
        self.flagged_noisy += int(np.count_nonzero(flagged & noisy))
        self.flagged_clean += int(np.count_nonzero(flagged & ~noisy))


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall at each distinct threshold, from the highest score down."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


@dataclass(frozen=True)
class PixelMetrics:
    """Pixel-level scores of a noise map (see the module docstring).

    ``auroc`` is None where the truth has no clean pixel; ``precision`` is None
    where no pixel reaches ``threshold``.
    """

    evaluated: int
    noisy: int
    base_rate: float
    average_precision: float
    auroc: float | None
    best_f1: float
    best_threshold: float
    best_precision: float
    best_recall: float
    threshold: float
    precision: float | None
    recall: float
    f1: float
    iou: float
    bins: int
    curve: PRCurve = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json`` (without the curve)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "curve"}


def pixel_metrics(histogram: ScoreHistogram) -> PixelMetrics:
    """AP, AUROC, best F1 and the operating-point scores of a filled histogram.

    Raises:
        EvaluationError: No pixel was tallied, or none of them is noisy.
    """
    positives, negatives = int(histogram.noisy.sum()), int(histogram.clean.sum())
    if positives == 0:
        raise EvaluationError(
            "no evaluated pixel is noisy in the truth, so precision and recall are undefined"
        )
    occupied = np.flatnonzero(histogram.noisy + histogram.clean)[::-1]  # high scores first
    tp = np.cumsum(histogram.noisy[occupied])
    fp = np.cumsum(histogram.clean[occupied])
    precision = tp / (tp + fp)
    recall = tp / positives
    average_precision = float(np.sum(np.diff(recall, prepend=0.0) * precision))
    auroc = None
    if negatives:
        tpr, fpr = np.r_[0.0, recall], np.r_[0, fp] / negatives
        auroc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    f1 = 2 * tp / (tp + fp + positives)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold reaching it
    flagged_tp, flagged = histogram.flagged_noisy, histogram.flagged_noisy + histogram.flagged_clean
    return PixelMetrics(
        evaluated=positives + negatives,
        noisy=positives,
        base_rate=positives / (positives + negatives),
        average_precision=average_precision,
        auroc=auroc,
        best_f1=float(f1[best]),
        best_threshold=float(histogram.minima[occupied[best]]),
        best_precision=float(precision[best]),
        best_recall=float(recall[best]),
        threshold=histogram.threshold,
        precision=flagged_tp / flagged if flagged else None,
        recall=flagged_tp / positives,
        f1=2 * flagged_tp / (flagged + positives),
        iou=flagged_tp / (flagged + positives - flagged_tp),
        bins=histogram.bins,
        curve=PRCurve(histogram.minima[occupied], precision, recall),
    )


def check_same_grid(noise: rasterio.io.DatasetReader, truth: rasterio.io.DatasetReader) -> None:
    """Refuse a truth raster that is not on the noise map's grid (CRS, transform, size)."""
    if not io.same_grid(truth, noise):
        raise GeoreferenceError(
            f"{truth.name} is not on the grid of {noise.name} (truth: {_grid(truth)}; noise map: "
            f"{_grid(noise)}); pass the truth of the scene the noise map was made from"
        )


def _grid(dataset: Any) -> str:
    t = dataset.transform
    size = f"{dataset.width}×{dataset.height} px"
    return f"{size}, {dataset.crs}, origin ({t.c:.12g}, {t.f:.12g}), pixel {t.a:.12g}×{t.e:.12g}"


def read_pair(
    noise: rasterio.io.DatasetReader, truth: rasterio.io.DatasetReader, window: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and truth (bool) of the pixels of ``window`` that both rasters know, 1-D.

    Raises:
        EvaluationError: A known score lies outside [0, 1].
    """
    score = io.read_window(noise, window, indexes=1)  # padding outside is masked invalid
    known = io.read_valid_mask(noise, window, data=score) & np.isfinite(score)
    mark = io.read_window(truth, window, indexes=1, fill_value=IGNORE)
    known &= io.read_valid_mask(truth, window, data=mark) & (mark != IGNORE)
    score = score[known]
    if score.size and (score.min() < 0 or score.max() > 1):
        bad = score[(score < 0) | (score > 1)][0]
        raise EvaluationError(
            f"{noise.name} has a score of {bad:g} (not nodata, outside [0, 1]); evaluate "
            "expects scores in [0, 1] — set the map's nodata if that value marks no data, "
            f"e.g. `gdal_edit.py -a_nodata {bad:g} {noise.name}`"
        )
    return score, mark[known] != 0


def scan_pixels(
    noise: rasterio.io.DatasetReader,
    truth: rasterio.io.DatasetReader,
    options: EvaluateOptions = EvaluateOptions(),
    on_window: Callable[[int, int], None] | None = None,
) -> ScoreHistogram:
    """Tally every pixel both rasters know, block by block (memory: one block).

    Args:
        on_window: Called with (blocks done, blocks in all) after each block.
    """

    histogram = ScoreHistogram(options.bins, options.threshold)
    grid = block_grid(noise.width, noise.height, options.window_size)
    for done, block in enumerate(grid, start=1):
        histogram.add(*read_pair(noise, truth, block.to_rasterio()))
        if on_window is not None:
            on_window(done, len(grid))
    return histogram


# --------------------------------------------------------------------------- objects


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
    by_kind: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


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


def _areal(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features with a valid geometry of positive area (points and lines dropped)."""
    import shapely

    geoms = gdf.geometry.to_numpy()
    geoms = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    keep = shapely.area(geoms) > 0
    return gdf.loc[keep].set_geometry(geoms[keep], crs=gdf.crs)


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
    if polygons.crs is not None and truth.crs is not None and polygons.crs != truth.crs:
        source = polygons.crs
        polygons = polygons.to_crs(truth.crs)
        if len(polygons) and not np.isfinite(polygons.total_bounds).all():
            raise GeoreferenceError(
                f"{name} do not reproject from {source.to_string()} to the truth objects' "
                f"{truth.crs.to_string()} (coordinates outside the CRS's range); check the CRS "
                "they declare (GeoJSON is always read as EPSG:4326)"
            )
    polygons, truth = _areal(polygons), _areal(truth)
    objects, shapes = truth.geometry.to_numpy(), polygons.geometry.to_numpy()
    found = covered_share(objects, shapes) >= min_cover
    correct = covered_share(shapes, objects) >= min_cover
    recall = found.mean() if len(found) else None
    precision = correct.mean() if len(correct) else None
    f1 = None
    if recall is not None and precision is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_kind = {}
    if "kind" in truth:
        for kind, hits in _groups(truth["kind"].astype(str).to_numpy(), found):
            by_kind[kind] = {
                "objects": len(hits),
                "found": int(hits.sum()),
                "recall": float(hits.mean()),
            }
    return ObjectMetrics(
        truth_objects=len(found),
        found=int(found.sum()),
        recall=None if recall is None else float(recall),
        polygons=len(correct),
        correct=int(correct.sum()),
        precision=None if precision is None else float(precision),
        f1=None if f1 is None else float(f1),
        min_cover=min_cover,
        by_kind=by_kind,
    )


def _groups(keys: np.ndarray, values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``values`` grouped by ``keys``, groups in sorted key order."""
    order = np.argsort(keys, kind="stable")
    names, starts = np.unique(keys[order], return_index=True)
    return list(zip(names.tolist(), np.split(values[order], starts[1:]), strict=True))


# --------------------------------------------------------------------------- tiles


@dataclass(frozen=True)
class TileMetrics:
    """Rank agreement between tile scores and the true noise fraction of the tiles.

    ``kendall_tau`` (τ-b) and ``spearman_rho`` are None where they are undefined
    (fewer than two tiles, or one side constant). ``scores`` says where the tile
    scores come from; ``rows`` holds ``tile_id``, ``score``, ``noise_fraction``
    and ``pixels`` per tile.
    """

    tiles: int
    kendall_tau: float | None
    kendall_p: float | None
    spearman_rho: float | None
    spearman_p: float | None
    scores: str
    dropped: int
    rows: list[dict[str, Any]] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def rank_agreement(scores: Sequence[float], truth: Sequence[float]) -> tuple[float | None, ...]:
    """Kendall's τ-b, its p-value, Spearman's ρ and its p-value (None where undefined)."""
    import warnings

    from scipy import stats

    if len(scores) < 2:
        return None, None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, reported as None
        tau = stats.kendalltau(scores, truth)
        rho = stats.spearmanr(scores, truth)
    values = (tau.statistic, tau.pvalue, rho.statistic, rho.pvalue)
    return tuple(None if not np.isfinite(v) else float(v) for v in values)


def tile_windows(
    index: gpd.GeoDataFrame,
    noise: rasterio.io.DatasetReader,
    scene: str | None = None,
    name: str = "the tile index",
) -> gpd.GeoDataFrame:
    """The tiles of a ``geonoise tile`` index that lie on the noise map's grid.

    A tile lies on the grid when its footprint (reprojected to the noise map's
    CRS) matches the bounds of its window on the noise map within half a pixel;
    tiles of other scenes drop out. ``scene`` keeps only the tiles whose
    ``scene`` column names it (path, file name or stem). ``name`` names the
    index in error messages.

    Raises:
        InvalidInputError: The index lacks window columns, or tiles of several
            scenes lie on the grid and ``scene`` does not choose one.
        GeoreferenceError: No tile lies on the grid.
    """
    missing = {"tile_id", "col_off", "row_off", "width", "height"} - set(index.columns)
    if missing:
        raise InvalidInputError(
            f"{name} lacks the columns {', '.join(sorted(missing))}; "
            "pass a directory written by `geonoise tile`",
            "--tiles",
        )
    if scene is not None and "scene" in index:
        paths = index["scene"].astype(str)
        index = index[(paths == scene) | paths.map(lambda p: scene in (Path(p).name, Path(p).stem))]
    on_grid = index.loc[_on_grid(index, noise)] if len(index) else index
    if on_grid.empty:
        raise GeoreferenceError(
            f"no tile of {name} lies on the grid of {noise.name}"
            + (f" with --tile-scene {scene}" if scene else "")
            + "; pass the tile directory of the scene the noise map was made from"
        )
    scenes = sorted(set(on_grid["scene"])) if "scene" in on_grid else []
    if len(scenes) > 1:
        raise InvalidInputError(
            f"tiles of {len(scenes)} scenes lie on the grid of {noise.name} "
            f"({', '.join(scenes)}); choose one with --tile-scene",
            "--tile-scene",
        )
    return on_grid


def _on_grid(index: gpd.GeoDataFrame, noise: rasterio.io.DatasetReader) -> np.ndarray:
    """Which footprints match their window's bounds on the noise map's grid."""
    footprints = index.geometry
    if index.crs is not None and index.crs != noise.crs:
        footprints = footprints.to_crs(noise.crs)
    col, row = index["col_off"].to_numpy(float), index["row_off"].to_numpy(float)
    cols = col, col + index["width"].to_numpy(float)
    rows = row, row + index["height"].to_numpy(float)
    t = noise.transform
    xs = np.array([t.a * c + t.b * r + t.c for c in cols for r in rows])
    ys = np.array([t.d * c + t.e * r + t.f for c in cols for r in rows])
    expected = np.column_stack([xs.min(0), ys.min(0), xs.max(0), ys.max(0)])
    tolerance = 0.5 * max(abs(noise.transform.a), abs(noise.transform.e))
    return np.all(np.abs(footprints.bounds.to_numpy() - expected) <= tolerance, axis=1)


def tile_values(
    noise: rasterio.io.DatasetReader,
    truth: rasterio.io.DatasetReader,
    tiles: gpd.GeoDataFrame,
    kind: str = "mean",
    threshold: float = 0.5,
) -> list[dict[str, Any]]:
    """Score (``kind``), true noise fraction and pixel count of each tile's evaluated pixels."""
    from rasterio.windows import Window

    rows = []
    for tile in tiles.itertuples():
        window = Window(tile.col_off, tile.row_off, tile.width, tile.height)
        score, noisy = read_pair(noise, truth, window)
        rows.append(
            {
                "tile_id": str(tile.tile_id),
                "score": tile_statistic(score, kind, threshold),
                "noise_fraction": float(noisy.mean()) if noisy.size else math.nan,
                "pixels": int(score.size),
            }
        )
    return rows


def ranking_scores(rows: list[dict[str, str]], path: str | os.PathLike) -> dict[str, float]:
    """Tile id → score of a ``detect --tiles`` ranking (its ``score``, else its rank ``id``).

    Higher means noisier either way: the challenge's format lists tiles from
    least to most noisy.
    """
    columns = set(rows[0]) if rows else set()
    column = "score" if "score" in columns else "id"
    if "imageid" not in columns or column not in columns:
        raise InvalidInputError(
            f"{path} has no imageid and score (or id) columns; pass the ranking.csv that "
            "`geonoise detect --tiles` wrote",
            "--ranking",
        )
    try:
        return {row["imageid"]: float(row[column]) for row in rows}
    except ValueError as exc:
        raise InvalidInputError(f"{path}: a {column} is not a number ({exc})", "--ranking") from exc


def tile_metrics(
    rows: list[dict[str, Any]], ranking: dict[str, float] | None = None, kind: str = "softmin"
) -> TileMetrics:
    """Kendall τ-b and Spearman ρ of the tile scores against the true noise fractions.

    With ``ranking``, a tile's score is its ranking score instead of its mean
    noise score. Tiles without evaluated pixels (or missing from the ranking)
    are dropped and counted.
    """
    if ranking is not None:
        rows = [{**r, "score": ranking.get(r["tile_id"], math.nan)} for r in rows]
    kept = [r for r in rows if r["pixels"] and math.isfinite(r["score"])]
    tau, tau_p, rho, rho_p = rank_agreement(
        [r["score"] for r in kept], [r["noise_fraction"] for r in kept]
    )
    return TileMetrics(
        tiles=len(kept),
        kendall_tau=tau,
        kendall_p=tau_p,
        spearman_rho=rho,
        spearman_p=rho_p,
        scores="ranking" if ranking is not None else f"{kind} noise score",
        dropped=len(rows) - len(kept),
        rows=kept,
    )


# --------------------------------------------------------------------------- top level


@dataclass(frozen=True)
class Evaluation:
    """Everything ``evaluate`` measured; ``objects`` and ``tiles`` only where asked for."""

    noise: str
    truth: str
    pixels: PixelMetrics
    ignored_pixels: int
    objects: ObjectMetrics | None = None
    truth_objects: str | None = None
    polygons: str | None = None
    tiles: TileMetrics | None = None
    tile_dir: str | None = None
    ranking: str | None = None
    plot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``; undefined metrics (NaN) become None."""
        content = {
            "noise": self.noise,
            "truth": self.truth,
            "pixels": {**self.pixels.to_dict(), "ignored": self.ignored_pixels},
            "objects": None,
            "tiles": None,
            "plot": self.plot,
        }
        if self.objects is not None:
            content["objects"] = {
                "polygons_file": self.polygons,
                "truth_objects_file": self.truth_objects,
                **self.objects.to_dict(),
            }
        if self.tiles is not None:
            content["tiles"] = {
                "directory": self.tile_dir,
                "ranking": self.ranking,
                **self.tiles.to_dict(),
            }
        return _finite(content)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (in nested dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class _Sources:
    """The vector and table inputs, read and checked before the pixel pass."""

    polygons: gpd.GeoDataFrame | None = None
    truth_objects: gpd.GeoDataFrame | None = None
    truth_objects_path: str | None = None
    index: gpd.GeoDataFrame | None = None
    index_name: str = ""
    ranking: dict[str, float] | None = None


def truth_objects_for(truth_path: str | os.PathLike) -> str | None:
    """The truth objects ``geonoise synth`` wrote beside ``truth_path``, where they exist."""
    candidate = Path(truth_path).with_name(TRUTH_OBJECTS_NAME)
    return str(candidate) if candidate.exists() else None


def _check_request(
    truth_path: str | os.PathLike,
    polygons: str | os.PathLike | None,
    truth_objects: str | os.PathLike | None,
    tiles: str | os.PathLike | None,
    ranking: str | os.PathLike | None,
    options: EvaluateOptions,
) -> str | None:
    """Refuse combinations that cannot work; return the truth objects to use (or None)."""
    if truth_objects is not None and polygons is None:
        raise InvalidInputError("it scores --polygons; pass them too", "--truth-objects")
    for option, value in (("--ranking", ranking), ("--tile-scene", options.tile_scene)):
        if value is not None and tiles is None:
            raise InvalidInputError("it needs --tiles DIR (the tiles it ranks)", option)
    if tiles is not None:
        require_tile_dir(tiles, "--tiles")
    if polygons is None:
        return None
    objects = truth_objects if truth_objects is not None else truth_objects_for(truth_path)
    if objects is None:
        raise InvalidInputError(
            f"no {TRUTH_OBJECTS_NAME} beside {truth_path}; pass the truth objects "
            "that --polygons are scored against",
            "--truth-objects",
        )
    return str(objects)


def _read_sources(
    polygons: str | os.PathLike | None,
    truth_objects: str | None,
    tiles: str | os.PathLike | None,
    ranking: str | os.PathLike | None,
) -> _Sources:
    frames = {}
    for name, path in (("polygons", polygons), ("truth objects", truth_objects)):
        if path is not None:
            frames[name] = io.read_vector(path)
            if frames[name].crs is None:
                raise GeoreferenceError(
                    f"{path} ({name}) has no CRS; assign one first, e.g. "
                    f"`ogr2ogr -a_srs EPSG:32633 fixed.gpkg {path}`"
                )
    index, index_name = None, ""
    if tiles is not None:
        index_name = str(index_path(tiles))
        index = read_tile_index(tiles, "--tiles")
    scores = None if ranking is None else ranking_scores(io.read_csv(ranking), ranking)
    return _Sources(
        frames.get("polygons"),
        frames.get("truth objects"),
        truth_objects,
        index,
        index_name,
        scores,
    )


def evaluate_files(
    noise_path: str | os.PathLike,
    truth_path: str | os.PathLike,
    *,
    polygons: str | os.PathLike | None = None,
    truth_objects: str | os.PathLike | None = None,
    tiles: str | os.PathLike | None = None,
    ranking: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    options: EvaluateOptions = EvaluateOptions(),
    overwrite: bool = False,
    on_window: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Score the noise map at ``noise_path`` against the truth at ``truth_path``.

    Args:
        noise_path: Noise-score GeoTIFF (band 1, scores in [0, 1], nodata ignored).
        truth_path: Truth mask on the same grid (nonzero = noisy; 255 and nodata ignored).
        polygons: Suspect polygons to score at object level (e.g. from ``vectorize``).
        truth_objects: Truth objects; default ``noise_objects.gpkg`` beside the truth.
        tiles: A ``geonoise tile`` directory of the same scene, for the tile metrics.
        ranking: A ``detect --tiles`` ranking CSV whose scores replace the mean
            noise score of each tile.
        plot: Where to write the precision-recall curve (PNG), atomically.
        options: Threshold, cover share, bins, block size, tile scene.
        overwrite: Replace an existing ``plot``.
        on_window: Called with (blocks done, blocks in all) during the pixel pass.

    Raises:
        InvalidInputError: An option combination or input that cannot work (exit 2).
        GeoreferenceError: The truth is not on the noise map's grid, a vector
            file has no CRS, or no tile lies on the grid.
        EvaluationError: No evaluated pixel, no noisy one, or scores outside [0, 1].
        OutputExistsError: ``plot`` exists and ``overwrite`` is False.
    """
    objects_path = _check_request(truth_path, polygons, truth_objects, tiles, ranking, options)
    if plot is not None:
        io.check_output(plot, overwrite)
    sources = _read_sources(polygons, objects_path, tiles, ranking)
    with io.open_scene(noise_path) as noise, io.open_scene(truth_path) as truth:
        check_same_grid(noise, truth)
        chosen = (
            None
            if sources.index is None
            else tile_windows(sources.index, noise, options.tile_scene, sources.index_name)
        )
        histogram = scan_pixels(noise, truth, options, on_window)
        pixels = _pixel_metrics(histogram, noise_path, truth_path)
        tile_rows = (
            None
            if chosen is None
            else tile_values(noise, truth, chosen, options.tile_score, options.threshold)
        )
        ignored = noise.width * noise.height - pixels.evaluated
    objects = None
    if sources.polygons is not None:
        objects = object_metrics(
            sources.polygons, sources.truth_objects, options.min_cover, str(polygons)
        )
    if plot is not None:
        _write_plot(pixels, plot, overwrite, title=Path(noise_path).name)
    return Evaluation(
        noise=str(noise_path),
        truth=str(truth_path),
        pixels=pixels,
        ignored_pixels=ignored,
        objects=objects,
        truth_objects=objects_path,
        polygons=None if polygons is None else str(polygons),
        tiles=None
        if tile_rows is None
        else tile_metrics(tile_rows, sources.ranking, options.tile_score),
        tile_dir=None if tiles is None else str(tiles),
        ranking=None if ranking is None else str(ranking),
        plot=None if plot is None else str(plot),
    )


def _pixel_metrics(
    histogram: ScoreHistogram, noise_path: str | os.PathLike, truth_path: str | os.PathLike
) -> PixelMetrics:
    """:func:`pixel_metrics`, with errors that name the files."""
    if not histogram.noisy.any() and not histogram.clean.any():
        raise EvaluationError(
            f"no pixel has both a score in {noise_path} and a truth value in {truth_path} "
            "(everything is nodata or 255 in one of them)"
        )
    if not histogram.noisy.any():
        raise EvaluationError(
            f"{truth_path} marks no evaluated pixel as noisy (nonzero), so precision and "
            "recall are undefined; pass the truth of a scene with label noise"
        )
    return pixel_metrics(histogram)


def _write_plot(pixels: PixelMetrics, path: str | os.PathLike, overwrite: bool, title: str) -> None:
    from geonoise.io.plots import plot_precision_recall

    with io.atomic_output(path, overwrite) as tmp:
        plot_precision_recall(
            pixels.curve.recall,
            pixels.curve.precision,
            tmp,
            average_precision=pixels.average_precision,
            base_rate=pixels.base_rate,
            best=(pixels.best_recall, pixels.best_precision, pixels.best_threshold),
            title=title,
        )
