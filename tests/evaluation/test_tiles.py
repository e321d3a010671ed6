"""Tile metrics: tile windows on the grid, tile scores and their rank agreement with the truth."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from geonoise import io
from geonoise.errors import GeoreferenceError, InvalidInputError
from geonoise.evaluation.options import EvaluateOptions
from geonoise.evaluation.pixels import pixel_metrics, scan_pixels
from geonoise.evaluation.tiles import (
    rank_agreement,
    ranking_scores,
    tile_metrics,
    tile_values,
    tile_windows,
)
from tests.conftest import CRS, ORIGIN, RES, write_scene
from tests.evaluation.conftest import H, W, truth_mask, write_noise, write_truth


def test_tile_rank_agreement_on_a_hand_made_set():
    rows = [
        {"tile_id": f"t{i}", "score": s, "noise_fraction": f, "pixels": 10}
        for i, (s, f) in enumerate([(0.1, 0.0), (0.2, 0.1), (0.3, 0.3), (0.4, 0.2)])
    ]
    m = tile_metrics(rows, kind="mean")
    assert m.kendall_tau == pytest.approx(4 / 6)  # 5 concordant pairs, 1 discordant
    assert m.spearman_rho == pytest.approx(0.8)  # 1 − 6·2 / (4·15)
    assert (m.tiles, m.dropped, m.scores) == (4, 0, "mean noise score")
    reversed_ranking = {f"t{i}": -s for i, s in enumerate([0.1, 0.2, 0.3, 0.4])}
    assert tile_metrics(rows, reversed_ranking).kendall_tau == pytest.approx(-4 / 6)


def test_tiles_without_pixels_or_ranking_are_dropped_and_undefined_is_none():
    rows = [
        {"tile_id": "a", "score": 0.1, "noise_fraction": 0.0, "pixels": 5},
        {"tile_id": "b", "score": math.nan, "noise_fraction": math.nan, "pixels": 0},
        {"tile_id": "c", "score": 0.2, "noise_fraction": 0.0, "pixels": 5},
    ]
    m = tile_metrics(rows, kind="mean")
    assert (m.tiles, m.dropped) == (2, 1)
    assert m.kendall_tau is None and m.spearman_rho is None  # truth constant
    assert tile_metrics(rows, {"a": 1.0}).tiles == 1
    assert rank_agreement([1.0], [2.0]) == (None, None, None, None)


def index_of(windows, crs=CRS, scene="../scene.tif", shift=0.0) -> gpd.GeoDataFrame:
    """A tile index like `geonoise tile` writes, for windows on the conftest grid."""
    rows, shapes = [], []
    for col, row, size in windows:
        x0, y0 = ORIGIN[0] + shift + col * RES, ORIGIN[1] - row * RES
        shapes.append(box(x0, y0 - size * RES, x0 + size * RES, y0))
        rows.append(
            {
                "tile_id": f"scene_r{row:06d}_c{col:06d}",
                "scene": scene,
                "col_off": col,
                "row_off": row,
                "width": size,
                "height": size,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=shapes, crs=CRS).to_crs(crs)


@pytest.fixture
def quadrants(tmp_path):
    """A 20×20 map in four 10×10 tiles with noise fractions 0, 0.1, 0.2, 0.5."""
    truth = np.zeros((20, 20), "uint8")
    truth[0, 10:20] = 1
    truth[10:12, 0:10] = 1
    truth[10:15, 10:20] = 1
    score = np.full((20, 20), 0.1)
    score[0:10, 10:20] = 0.2
    score[10:20, 0:10] = 0.4  # ranked above the 0.5 tile: one discordant pair
    score[10:20, 10:20] = 0.3
    score[19, 19] = -1  # nodata: the tile has 99 evaluated pixels
    noise = write_noise(tmp_path / "noise.tif", score)
    mask = write_truth(tmp_path / "truth.tif", truth)
    windows = [(0, 0, 10), (10, 0, 10), (0, 10, 10), (10, 10, 10)]
    return noise, mask, windows


def test_tile_values_and_rank_agreement_on_a_tiled_map(quadrants):
    noise, mask, windows = quadrants
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        tiles = tile_windows(index_of(windows), n)
        rows = tile_values(n, t, tiles)
    assert [r["noise_fraction"] for r in rows] == [0.0, 0.1, 0.2, pytest.approx(50 / 99)]
    assert [r["score"] for r in rows] == pytest.approx([0.1, 0.2, 0.4, 0.3])
    assert [r["pixels"] for r in rows] == [100, 100, 100, 99]
    assert tile_metrics(rows).kendall_tau == pytest.approx(4 / 6)


def test_a_binary_uint8_map_and_a_tile_larger_than_the_scene(tmp_path):
    truth = truth_mask()
    noise = write_scene(tmp_path / "noise.tif", W, H, data=truth[None].copy())  # 0/1, no nodata
    mask = write_truth(tmp_path / "truth.tif", truth)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        assert pixel_metrics(scan_pixels(n, t)).average_precision == 1.0
        rows = tile_values(n, t, tile_windows(index_of([(0, 0, 32)]), n))
    assert rows == [
        {"tile_id": rows[0]["tile_id"], "score": 0.1, "noise_fraction": 0.1, "pixels": 600}
    ]


def test_tiles_of_another_grid_drop_out_and_none_left_is_an_error(quadrants):
    noise, _, windows = quadrants
    index = gpd.GeoDataFrame(
        np.concatenate([index_of(windows).to_numpy(), index_of(windows, shift=100).to_numpy()]),
        columns=index_of(windows).columns,
        geometry="geometry",
        crs=CRS,
    )
    index.loc[4:, "scene"] = "../other.tif"
    with io.open_scene(noise) as n:
        assert len(tile_windows(index, n)) == 4
        assert len(tile_windows(index_of(windows, crs="EPSG:4326"), n)) == 4  # reprojected
        with pytest.raises(GeoreferenceError, match=r"no tile of tiles\.gpkg lies on the grid"):
            tile_windows(index_of(windows, shift=100), n, name="tiles.gpkg")
        with pytest.raises(GeoreferenceError, match="--tile-scene other"):
            tile_windows(index, n, scene="other")


def test_several_scenes_on_the_grid_need_tile_scene(quadrants):
    noise, _, windows = quadrants
    a, b = index_of(windows, scene="../a.tif"), index_of(windows[:2], scene="../b.tif")
    both = gpd.GeoDataFrame(
        np.concatenate([a.to_numpy(), b.to_numpy()]),
        columns=a.columns,
        geometry="geometry",
        crs=CRS,
    )
    with io.open_scene(noise) as n:
        with pytest.raises(InvalidInputError, match=r"tiles of 2 scenes .*--tile-scene"):
            tile_windows(both, n)
        assert len(tile_windows(both, n, scene="b")) == 2
        assert len(tile_windows(both, n, scene="a.tif")) == 4
        assert len(tile_windows(both, n, scene="../b.tif")) == 2


def test_an_index_without_windows_is_refused(quadrants):
    noise, _, windows = quadrants
    with io.open_scene(noise) as n, pytest.raises(InvalidInputError, match="lacks the columns"):
        tile_windows(index_of(windows).drop(columns=["col_off"]), n)


def test_ranking_scores_by_score_or_by_rank(tmp_path):
    assert ranking_scores([{"id": "0", "imageid": "a", "score": "0.5"}], "r.csv") == {"a": 0.5}
    assert ranking_scores([{"id": "3", "imageid": "a"}], "r.csv") == {"a": 3.0}
    with pytest.raises(InvalidInputError, match=r"r\.csv has no imageid"):
        ranking_scores([{"tile": "a", "score": "1"}], "r.csv")
    with pytest.raises(InvalidInputError, match="not a number"):
        ranking_scores([{"imageid": "a", "score": "high"}], "r.csv")


def test_softmin_tile_score_leans_on_the_worst_pixels():
    from geonoise.detection.scores import softmin_score

    assert softmin_score(np.full(50, 0.3)) == pytest.approx(0.3)
    # Qualities 1 and 0 with temperature 0.1: weights e^-10 and 1.
    assert softmin_score(np.array([0.0, 1.0])) == pytest.approx(1 - np.exp(-10) / (1 + np.exp(-10)))
    few_bad = np.r_[np.full(95, 0.05), np.full(5, 0.95)]  # 5 % of pixels confidently wrong
    many_unsure = np.full(100, 0.3)  # a higher mean, but no pixel clearly wrong
    assert few_bad.mean() < many_unsure.mean()
    assert softmin_score(few_bad) > softmin_score(many_unsure)
    assert np.isnan(softmin_score(np.array([])))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("mean", [0.1, 0.2, 0.4, 0.3]), ("softmin", [0.1, 0.2, 0.4, 0.3]), ("fraction", [0, 0, 0, 0])],
)
def test_tile_score_kinds_on_a_tiled_map(quadrants, kind, expected):
    noise, mask, windows = quadrants
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        rows = tile_values(n, t, tile_windows(index_of(windows), n), kind, threshold=0.5)
    assert [r["score"] for r in rows] == pytest.approx(expected)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        rows = tile_values(n, t, tile_windows(index_of(windows), n), "fraction", threshold=0.3)
    assert [r["score"] for r in rows] == pytest.approx([0, 0, 1, 1])
    with pytest.raises(InvalidInputError, match="--tile-score"):
        EvaluateOptions(tile_score="median")
