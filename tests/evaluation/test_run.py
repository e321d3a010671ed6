"""Evaluating files: every level at once, the plot, and what is refused before any work."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from geonoise import io
from geonoise.errors import InvalidInputError, OutputExistsError
from geonoise.evaluation.options import EvaluateOptions
from geonoise.evaluation.pixels import EvaluationError
from geonoise.evaluation.run import evaluate_files
from tests.conftest import CRS, ORIGIN, RES
from tests.evaluation.conftest import H, W, truth_mask, write_noise, write_truth


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
    import geonoise.evaluation.run

    noise, mask = scene_dir
    (tmp_path / "pr.png").write_text("mine")
    monkeypatch.setattr(
        geonoise.evaluation.run, "scan_pixels", lambda *a, **k: pytest.fail("worked")
    )
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
