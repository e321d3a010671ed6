"""Tile mode: tile scores and the ranking of tiles from clean to noisy."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from geonoise.detection.options import DetectOptions
from geonoise.detection.tiles import RankOptions, rank_tiles
from tests.conftest import PixelModel


def test_tile_scores_count_the_threshold_and_skip_unscored_pixels():
    from geonoise.detection.tiles import tile_scores

    noise = np.array([[0.2, 0.5], [0.5, 0.9], [np.nan, np.nan]], np.float32)
    probs = np.stack([1 - noise, noise])
    label = np.array([[1, 1], [1, 1], [255, 255]], np.uint8)
    scores = tile_scores(noise, probs, label, 0.5)
    assert scores["fraction"] == 0.75  # a score at the threshold counts as noisy
    assert scores["mean"] == pytest.approx(0.525)
    assert scores["labelled"] == 4
    # predicted: class 1 only at 0.9 (ties go to class 0): IoU 0 for class 0, 1/4 for class 1
    assert scores["iou"] == pytest.approx(1 - (0 + 1 / 4) / 2)


def test_tile_ranking_orders_tiles_by_injected_noise(scene_factory, tmp_path):
    """Tiles whose labels were flipped on more pixels rank as noisier."""
    from geonoise.data.datasets import open_tiles
    from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles

    clean = np.zeros((64, 128), "uint8")
    clean[10:50, 5:60] = 1
    clean[10:50, 70:120] = 1
    image = np.where(clean == 1, 240, 15).astype("uint8")[None].repeat(3, 0)
    noisy = clean.copy()
    flips = {0: 0, 32: 40, 64: 160, 96: 600}  # column offset of a 32-wide tile → pixels flipped
    rng = np.random.default_rng(0)
    for col, count in flips.items():
        rows, cols = np.unravel_index(rng.choice(64 * 32, count, replace=False), (64, 32))
        noisy[rows, cols + col] ^= 1
    scene = scene_factory(width=128, height=64, data=image)
    labels = scene_factory("noisy.tif", width=128, height=64, data=noisy[None])
    opts = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "tiles", opts)
    dataset = open_tiles(str(tmp_path / "tiles"))
    for score in ("mean", "softmin", "fraction", "iou"):
        out = tmp_path / f"rank_{score}"
        summary = rank_tiles(
            dataset,
            PixelModel(),
            out,
            DetectOptions(quicklook=False),
            RankOptions(tile_score=score),
        )
        ranking = (out / "ranking.csv").read_text().splitlines()
        assert ranking[0].startswith("id,imageid,score")
        order = [line.split(",")[1] for line in ranking[1:]]
        columns = [int(name.split("_c")[1]) for name in order]
        # Rows r0 and r32 of each column share its noise level; clean columns first.
        assert [flips[c] for c in columns] == sorted(flips[c] for c in columns), score
        layer = gpd.read_file(out / "ranking.gpkg", layer="tiles")
        assert list(layer["rank"]) == list(range(8)) and summary.tiles == 8
        assert (out / "noise" / f"{order[0]}.tif").exists()
