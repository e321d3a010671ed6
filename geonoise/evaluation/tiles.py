"""Tile metrics: how well tile scores rank the tiles by their true noise.

For the tiles of a ``geonoise tile`` directory that lie on the noise map's grid,
each tile's score (a statistic of its evaluated pixels' noise scores, as
``detect --tiles`` computes it, or the score of a ``detect --tiles`` ranking) is
set against the true noise fraction of the same pixels; the agreement of the
two orders is Kendall's τ-b and Spearman's ρ.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from geonoise.detection.scores import tile_statistic
from geonoise.errors import GeoreferenceError, InvalidInputError
from geonoise.evaluation.options import TileStatistic
from geonoise.evaluation.pixels import read_pair

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio

#: Columns a tile index needs to place its tiles on the noise map's grid.
WINDOW_COLUMNS = frozenset({"tile_id", "col_off", "row_off", "width", "height"})


class TileRow(TypedDict):
    """One tile: its score, the true noise fraction of its evaluated pixels, their count."""

    tile_id: str
    score: float
    noise_fraction: float
    pixels: int


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
    rows: list[TileRow] = field(repr=False)

    def to_dict(self) -> dict[str, int | float | str | list[TileRow] | None]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


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
    missing = WINDOW_COLUMNS - set(index.columns)
    if missing:
        raise InvalidInputError(
            f"{name} lacks the columns {', '.join(sorted(missing))}; "
            "pass a directory written by `geonoise tile`",
            "--tiles",
        )
    if scene is not None and "scene" in index:
        index = _of_scene(index, scene)
    on_grid = index.loc[_on_grid(index, noise)] if len(index) else index
    if on_grid.empty:
        raise GeoreferenceError(
            f"no tile of {name} lies on the grid of {noise.name}"
            + (f" with --tile-scene {scene}" if scene else "")
            + "; pass the tile directory of the scene the noise map was made from"
        )
    _require_one_scene(on_grid, noise)
    return on_grid


def _of_scene(index: gpd.GeoDataFrame, scene: str) -> gpd.GeoDataFrame:
    """The tiles whose ``scene`` is ``scene``, as a path, a file name or a stem."""
    paths = index["scene"].astype(str)
    return index[(paths == scene) | paths.map(lambda p: scene in (Path(p).name, Path(p).stem))]


def _require_one_scene(on_grid: gpd.GeoDataFrame, noise: rasterio.io.DatasetReader) -> None:
    """Refuse tiles of several scenes on the grid: it is ambiguous which the noise map shows."""
    scenes = sorted(set(on_grid["scene"])) if "scene" in on_grid else []
    if len(scenes) > 1:
        raise InvalidInputError(
            f"tiles of {len(scenes)} scenes lie on the grid of {noise.name} "
            f"({', '.join(scenes)}); choose one with --tile-scene",
            "--tile-scene",
        )


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
    kind: TileStatistic = "mean",
    threshold: float = 0.5,
) -> list[TileRow]:
    """Score (``kind``), true noise fraction and pixel count of each tile's evaluated pixels.

    Args:
        noise: The noise map.
        truth: The truth mask on the noise map's grid.
        tiles: Tiles on that grid (see :func:`tile_windows`).
        kind: The tile statistic of :func:`geonoise.detection.scores.tile_statistic`.
        threshold: The score a pixel must reach to count for ``fraction``.
    """
    from rasterio.windows import Window

    rows: list[TileRow] = []
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

    Raises:
        InvalidInputError: The rows lack the columns, or a score is not a number.
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


def rank_agreement(
    scores: Sequence[float], truth: Sequence[float]
) -> tuple[float | None, float | None, float | None, float | None]:
    """Kendall's τ-b, its p-value, Spearman's ρ and its p-value (None where undefined)."""
    import warnings

    from scipy import stats

    if len(scores) < 2:
        return None, None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, reported as None
        tau = stats.kendalltau(scores, truth)
        rho = stats.spearmanr(scores, truth)
    tau_b, tau_p, rho_s, rho_p = (
        None if not np.isfinite(v) else float(v)
        for v in (tau.statistic, tau.pvalue, rho.statistic, rho.pvalue)
    )
    return tau_b, tau_p, rho_s, rho_p


def tile_metrics(
    rows: list[TileRow], ranking: dict[str, float] | None = None, kind: TileStatistic = "softmin"
) -> TileMetrics:
    """Kendall τ-b and Spearman ρ of the tile scores against the true noise fractions.

    With ``ranking``, a tile's score is its ranking score instead of its own
    (``kind``) score. Tiles without evaluated pixels (or missing from the
    ranking) are dropped and counted.
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
