"""The evaluation library: pixel, object and tile metrics on cases whose values are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from geonoise import io
from geonoise.errors import GeoreferenceError, InvalidInputError, OutputExistsError
from geonoise.evaluation import (
    EvaluateOptions,
    EvaluationError,
    ScoreHistogram,
    check_same_grid,
    evaluate_files,
    object_metrics,
    pixel_metrics,
    rank_agreement,
    ranking_scores,
    scan_pixels,
    tile_metrics,
    tile_values,
    tile_windows,
)
from tests.conftest import CRS, ORIGIN, RES, write_scene

H, W = 20, 30


def write_noise(path: Path, score: np.ndarray, **kwargs) -> Path:
    """A noise map as detect writes it: float32, nodata −1."""
    data = score.astype("float32")[None]
    return write_scene(path, score.shape[1], score.shape[0], data=data, nodata=-1.0, **kwargs)


def write_truth(path: Path, truth: np.ndarray, **kwargs) -> Path:
    """A truth mask as synth writes it: uint8, no nodata unless given."""
    data = truth.astype("uint8")[None]
    return write_scene(path, truth.shape[1], truth.shape[0], data=data, **kwargs)


def truth_mask() -> np.ndarray:
    """60 noisy pixels of 600 (base rate 0.1) in two blocks."""
    truth = np.zeros((H, W), "uint8")
    truth[2:6, 3:13] = 1  # 40
    truth[12:16, 20:25] = 1  # 20
    return truth


def metrics(tmp_path: Path, score: np.ndarray, truth: np.ndarray, **options):
    noise = write_noise(tmp_path / "noise.tif", score)
    mask = write_truth(tmp_path / "truth.tif", truth)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        return pixel_metrics(scan_pixels(n, t, EvaluateOptions(**options)))


# --------------------------------------------------------------------------- pixels


def test_a_perfect_map_scores_one_everywhere(tmp_path):
    truth = truth_mask()
    m = metrics(tmp_path, truth.astype(float), truth)
    assert (m.average_precision, m.auroc, m.best_f1) == (1.0, 1.0, 1.0)
    assert (m.best_threshold, m.best_precision, m.best_recall) == (1.0, 1.0, 1.0)
    assert (m.precision, m.recall, m.f1, m.iou) == (1.0, 1.0, 1.0, 1.0)
    assert (m.evaluated, m.noisy, m.base_rate) == (600, 60, 0.1)


def test_a_perfect_ranking_with_graded_scores_reports_the_exact_threshold(tmp_path):
    truth = truth_mask()
    rng = np.random.default_rng(0)
    score = np.where(truth > 0, rng.uniform(0.7, 0.9, truth.shape), rng.uniform(0, 0.3, (H, W)))
    m = metrics(tmp_path, score, truth)
    assert (m.average_precision, m.auroc, m.best_f1) == (1.0, 1.0, 1.0)
    assert m.best_threshold == float(score[truth > 0].astype("float32").min())


def test_an_inverted_map_has_auroc_zero_and_ap_the_base_rate(tmp_path):
    truth = truth_mask()
    m = metrics(tmp_path, 1.0 - truth, truth)
    assert m.auroc == 0.0
    assert m.average_precision == pytest.approx(0.1, abs=1e-12)
    # Best F1 only at the lowest threshold, where everything is flagged: 2·60 / (600 + 60).
    assert m.best_threshold == 0.0 and m.best_f1 == pytest.approx(120 / 660, abs=1e-12)
    assert (m.precision, m.recall, m.f1, m.iou) == (0.0, 0.0, 0.0, 0.0)


def test_a_constant_map_has_ap_the_base_rate_and_auroc_one_half(tmp_path):
    truth = truth_mask()
    m = metrics(tmp_path, np.full((H, W), 0.3), truth)
    assert m.average_precision == pytest.approx(0.1, abs=1e-12)
    assert m.auroc == 0.5
    assert m.best_f1 == pytest.approx(120 / 660, abs=1e-12)
    assert m.best_threshold == pytest.approx(0.3, abs=1e-7)
    assert m.precision is None and m.recall == 0.0  # nothing reaches 0.5
    assert len(m.curve.recall) == 1


def test_nodata_nan_and_truth_255_are_ignored(tmp_path):
    truth = truth_mask()
    score = truth.astype(float)
    score[0, :] = -1.0  # noise-map nodata, over clean truth ...
    truth[0, :10] = 1  # ... that would be misses if they counted
    score[1, 0] = np.nan
    truth[1, 0] = 1
    truth[19, :] = 255  # unknown truth, under wrong scores
    score[19, :] = 1.0
    m = metrics(tmp_path, score, truth)
    assert m.evaluated == 600 - 30 - 1 - 30
    assert (m.average_precision, m.auroc, m.best_f1) == (1.0, 1.0, 1.0)


def test_the_truths_own_nodata_is_ignored(tmp_path):
    truth = truth_mask()
    truth[:, -2:] = 9  # nonzero: noisy, unless it is the truth's nodata
    noise = write_noise(tmp_path / "noise.tif", (truth == 1).astype(float))
    mask = write_truth(tmp_path / "truth.tif", truth, nodata=9)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        m = pixel_metrics(scan_pixels(n, t))
    assert m.evaluated == 600 - 40 and m.average_precision == 1.0


def exact_ap_auroc(score: np.ndarray, noisy: np.ndarray) -> tuple[float, float]:
    """AP and AUROC straight from their definitions (every pair, every distinct threshold)."""
    ap, previous_recall = 0.0, 0.0
    for t in np.unique(score)[::-1]:
        flagged = score >= t
        recall = (flagged & noisy).sum() / noisy.sum()
        ap += (recall - previous_recall) * (flagged & noisy).sum() / flagged.sum()
        previous_recall = recall
    pos, neg = score[noisy][:, None], score[~noisy][None, :]
    auroc = ((pos > neg) + 0.5 * (pos == neg)).mean()
    return ap, auroc


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_maps_with_ties_match_the_exact_definitions(tmp_path, seed):
    rng = np.random.default_rng(seed)
    truth = (rng.random((H, W)) < 0.25).astype("uint8")
    score = np.round(np.clip(0.3 * truth + rng.random((H, W)) * 0.7, 0, 1) * 20) / 20
    m = metrics(tmp_path, score, truth)
    ap, auroc = exact_ap_auroc(score.astype("float32").ravel(), truth.ravel() > 0)
    assert m.average_precision == pytest.approx(ap, abs=1e-12)
    assert m.auroc == pytest.approx(auroc, abs=1e-12)


def test_continuous_scores_are_within_the_bin_width(tmp_path):
    rng = np.random.default_rng(4)
    truth = (rng.random((H, W)) < 0.25).astype("uint8")
    score = np.clip(0.2 * truth + rng.random((H, W)) * 0.8, 0, 1)
    ap, auroc = exact_ap_auroc(score.astype("float32").ravel(), truth.ravel() > 0)
    fine = metrics(tmp_path, score, truth)
    assert fine.average_precision == pytest.approx(ap, abs=1e-3)
    assert fine.auroc == pytest.approx(auroc, abs=1e-3)
    coarse = metrics(tmp_path, score, truth, bins=4)  # four ties: far off
    assert abs(coarse.auroc - auroc) > abs(fine.auroc - auroc)


def test_block_size_does_not_change_the_tally(tmp_path):
    rng = np.random.default_rng(5)
    truth = (rng.random((H, W)) < 0.3).astype("uint8")
    score = rng.random((H, W))
    noise = write_noise(tmp_path / "noise.tif", score)
    mask = write_truth(tmp_path / "truth.tif", truth)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        whole = scan_pixels(n, t, EvaluateOptions(window_size=4096))
        calls = []
        blocks = scan_pixels(n, t, EvaluateOptions(window_size=7), lambda *a: calls.append(a))
    assert calls[-1] == (len(calls), len(calls)) and len(calls) == 3 * 5
    for name in ("noisy", "clean", "minima"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(blocks, name))


def test_histogram_threshold_counts_are_exact():
    histogram = ScoreHistogram(bins=2, threshold=0.3)
    histogram.add(np.array([0.1, 0.3, 0.31, 0.9]), np.array([True, True, False, True]))
    assert (histogram.flagged_noisy, histogram.flagged_clean) == (2, 1)
    np.testing.assert_array_equal(histogram.minima, [0.1, 0.9])


def test_scores_outside_zero_one_are_refused(tmp_path):
    score = np.full((H, W), 0.2)
    score[3, 4] = 7.5
    with pytest.raises(EvaluationError, match=r"score of 7\.5 .*gdal_edit\.py -a_nodata 7\.5"):
        metrics(tmp_path, score, truth_mask())


def test_no_noisy_pixel_is_an_error():
    with pytest.raises(EvaluationError, match="no evaluated pixel is noisy"):
        pixel_metrics(ScoreHistogram())


@pytest.mark.parametrize(
    "change",
    [
        {"width": W - 1},
        {"crs": "EPSG:32634"},
        {"origin": (ORIGIN[0] + 10, ORIGIN[1])},
        {"res": RES * 2},
    ],
)
def test_a_truth_off_the_noise_grid_is_refused(tmp_path, change):
    noise = write_noise(tmp_path / "noise.tif", np.zeros((H, W)))
    width = change.pop("width", W)
    truth = write_scene(tmp_path / "truth.tif", width, H, count=1, **change)
    with (
        io.open_scene(noise) as n,
        io.open_scene(truth) as t,
        pytest.raises(GeoreferenceError, match=r"truth\.tif is not on the grid of .*noise\.tif"),
    ):
        check_same_grid(n, t)


# --------------------------------------------------------------------------- objects

#: Truth objects along a row (UTM metres): A, B, C, D, each 10 × 10 m.
OBJECTS = gpd.GeoDataFrame(
    {"object_id": [1, 2, 3, 4], "kind": ["missing", "shift", "missing", "dilate"]},
    geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10), box(60, 0, 70, 10)],
    crs=CRS,
)


def polygons() -> gpd.GeoDataFrame:
    """Polygons with known cover.

    A: 60 % covered (found), by a polygon wholly inside it (correct);
    B: 40 % covered (not found), polygon inside it (correct);
    C: two overlapping polygons of 70 % each, 100 % together (found; both correct);
    D: the same 30 % polygon twice — 60 % if summed, 30 % as a union (not found; both correct);
    one polygon far away (not correct), one 60 % inside B, within B's first polygon (correct).
    """
    shapes = [
        box(0, 0, 6, 10),
        box(20, 0, 24, 10),
        box(40, 0, 47, 10),
        box(43, 0, 50, 10),
        box(60, 0, 63, 10),
        box(60, 0, 63, 10),
        box(500, 500, 510, 510),
        box(18, 8, 23, 10),
    ]
    return gpd.GeoDataFrame({"id": range(1, 9)}, geometry=shapes, crs=CRS)


def test_object_recall_and_precision_on_hand_made_polygons():
    m = object_metrics(polygons(), OBJECTS, min_cover=0.5)
    assert (m.truth_objects, m.found, m.recall) == (4, 2, 0.5)
    assert (m.polygons, m.correct, m.precision) == (8, 7, 7 / 8)
    assert m.f1 == pytest.approx(2 * 0.5 * 7 / 8 / (0.5 + 7 / 8))
    assert m.by_kind == {
        "dilate": {"objects": 1, "found": 0, "recall": 0.0},
        "missing": {"objects": 2, "found": 2, "recall": 1.0},
        "shift": {"objects": 1, "found": 0, "recall": 0.0},
    }


def test_min_cover_moves_both_sides():
    strict = object_metrics(polygons(), OBJECTS, min_cover=0.65)
    assert strict.found == 1  # C only (A is 60 %, at 0.65 not found)
    assert strict.correct == 6  # the polygon 60 % inside B drops out
    lenient = object_metrics(polygons(), OBJECTS, min_cover=0.25)
    assert lenient.found == 4


def test_polygons_in_another_crs_are_reprojected():
    m = object_metrics(polygons().to_crs("EPSG:4326"), OBJECTS)
    assert (m.found, m.correct) == (2, 7)


def test_empty_and_degenerate_features_are_left_out():
    from shapely import LineString, Point, Polygon

    extra = gpd.GeoDataFrame(
        {"id": [9, 10, 11]},
        geometry=[Point(1, 1), LineString([(0, 0), (5, 5)]), Polygon()],
        crs=CRS,
    )
    with_junk = gpd.GeoDataFrame(
        np.concatenate([polygons().to_numpy(), extra.to_numpy()]),
        columns=["id", "geometry"],
        geometry="geometry",
        crs=CRS,
    )
    assert object_metrics(with_junk, OBJECTS).polygons == 8
    none = object_metrics(polygons().iloc[:0], OBJECTS)
    assert (none.found, none.recall, none.precision, none.f1) == (0, 0.0, None, None)


def test_an_invalid_polygon_is_repaired_not_fatal():
    from shapely import Polygon

    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])  # self-intersecting
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[bowtie], crs=CRS)
    m = object_metrics(gdf, OBJECTS)
    assert (m.found, m.correct) == (1, 1)


# --------------------------------------------------------------------------- tiles


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


# --------------------------------------------------------------------------- files


@pytest.fixture
def scene_dir(tmp_path):
    """A noise map, its truth and the truth objects beside it, on one grid."""
    truth = np.zeros((20, 20), "uint8")
    truth[0:4, 0:4] = 1  # the object at the grid's top-left corner
    noise = write_noise(tmp_path / "noise.tif", truth.astype(float))
    mask = write_truth(tmp_path / "truth.tif", truth)
    x0, y0 = ORIGIN
    corner = box(x0, y0 - 4 * RES, x0 + 4 * RES, y0)
    io.write_vector(
        gpd.GeoDataFrame({"kind": ["missing"]}, geometry=[corner], crs=CRS),
        tmp_path / "noise_objects.gpkg",
    )
    io.write_vector(
        gpd.GeoDataFrame({"id": [1]}, geometry=[corner], crs=CRS), tmp_path / "polygons.gpkg"
    )
    return noise, mask


def test_evaluate_files_scores_all_levels_and_writes_the_plot(scene_dir, tmp_path):
    noise, mask = scene_dir
    result = evaluate_files(
        noise, mask, polygons=tmp_path / "polygons.gpkg", plot=tmp_path / "pr.png"
    )
    assert result.pixels.average_precision == 1.0 and result.ignored_pixels == 0
    assert result.truth_objects == str(tmp_path / "noise_objects.gpkg")
    assert (result.objects.recall, result.objects.precision) == (1.0, 1.0)
    assert (tmp_path / "pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert summary["pixels"]["auroc"] == 1.0 and summary["tiles"] is None
    assert "curve" not in summary["pixels"]


def test_an_existing_plot_is_refused_before_any_work(scene_dir, tmp_path, monkeypatch):
    import geonoise.evaluation

    noise, mask = scene_dir
    (tmp_path / "pr.png").write_text("mine")
    monkeypatch.setattr(geonoise.evaluation, "scan_pixels", lambda *a, **k: pytest.fail("worked"))
    with pytest.raises(OutputExistsError, match=r"pr\.png exists; pass --overwrite"):
        evaluate_files(noise, mask, plot=tmp_path / "pr.png")
    assert (tmp_path / "pr.png").read_text() == "mine"


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"ranking": "r.csv"}, "--ranking"),
        ({"truth_objects": "o.gpkg"}, "--truth-objects"),
        ({"options": EvaluateOptions(tile_scene="a")}, "--tile-scene"),
    ],
)
def test_option_combinations_that_cannot_work(scene_dir, kwargs, option):
    noise, mask = scene_dir
    with pytest.raises(InvalidInputError, match=option):
        evaluate_files(noise, mask, **kwargs)


def test_polygons_without_truth_objects_name_the_option(tmp_path):
    truth = truth_mask()
    noise = write_noise(tmp_path / "noise.tif", truth.astype(float))
    mask = write_truth(tmp_path / "truth.tif", truth)
    with pytest.raises(InvalidInputError, match=r"--truth-objects.*no noise_objects\.gpkg beside"):
        evaluate_files(noise, mask, polygons=mask)


def test_no_pixel_known_by_both_is_an_error_naming_both(tmp_path):
    noise = write_noise(tmp_path / "noise.tif", np.full((H, W), -1.0))
    mask = write_truth(tmp_path / "truth.tif", truth_mask())
    with pytest.raises(EvaluationError, match=r"no pixel has both a score in .*noise\.tif"):
        evaluate_files(noise, mask)


def test_bad_options_name_the_option():
    for kwargs, option in (
        ({"threshold": 1.5}, "--threshold"),
        ({"min_cover": 0}, "--min-cover"),
        ({"bins": 1}, "--bins"),
    ):
        with pytest.raises(InvalidInputError, match=option):
            EvaluateOptions(**kwargs)


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
