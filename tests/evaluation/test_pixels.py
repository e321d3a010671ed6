"""Pixel metrics on cases whose values are known: perfect, inverted, constant, tied maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geonoise import io
from geonoise.errors import GeoreferenceError
from geonoise.evaluation.options import EvaluateOptions
from geonoise.evaluation.pixels import (
    EvaluationError,
    ScoreHistogram,
    check_same_grid,
    pixel_metrics,
    scan_pixels,
)
from tests.conftest import ORIGIN, RES, write_scene
from tests.evaluation.conftest import H, W, truth_mask, write_noise, write_truth


def metrics(tmp_path: Path, score: np.ndarray, truth: np.ndarray, **options):
    noise = write_noise(tmp_path / "noise.tif", score)
    mask = write_truth(tmp_path / "truth.tif", truth)
    with io.open_scene(noise) as n, io.open_scene(mask) as t:
        return pixel_metrics(scan_pixels(n, t, EvaluateOptions(**options)))


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
