"""Attributes of the noise polygons: scores, majority classes and kinds."""

from __future__ import annotations

import numpy as np
import shapely

from tests.conftest import CRS, ORIGIN, RES
from tests.vectorize.conftest import run, write_classes, write_noise


def test_known_regions_become_known_polygons_with_attributes(known):
    gdf = run(*known)
    assert list(gdf["id"]) == [1, 2, 3, 4]
    assert list(gdf["kind"]) == ["missing", "spurious", "boundary", "boundary"]
    assert list(gdf["label_class"]) == [0, 1, 1, 0]
    assert list(gdf["predicted_class"]) == [1, 0, 0, 1]
    assert list(gdf["pixels"]) == [100, 100, 40, 40]
    np.testing.assert_allclose(gdf["area"], [25.0, 25.0, 10.0, 10.0])
    np.testing.assert_allclose(gdf["mean_score"], [(99 * 0.9 + 1.0) / 100, 0.8, 0.7, 0.7], 1e-6)
    np.testing.assert_allclose(gdf["max_score"], [1.0, 0.8, 0.7, 0.7], 1e-6)
    x0, y0 = ORIGIN
    expected = [
        shapely.box(x0 + 5 * RES, y0 - 15 * RES, x0 + 15 * RES, y0 - 5 * RES),
        shapely.box(x0 + 30 * RES, y0 - 15 * RES, x0 + 40 * RES, y0 - 5 * RES),
        shapely.box(x0 + 10 * RES, y0 - 50 * RES, x0 + 12 * RES, y0 - 30 * RES),
        shapely.box(x0 + 30 * RES, y0 - 50 * RES, x0 + 32 * RES, y0 - 30 * RES),
    ]
    assert shapely.equals(gdf.geometry.values, expected).all()
    assert gdf.crs == CRS
    assert shapely.is_valid(gdf.geometry.values).all()


def test_whole_buildings_are_not_boundary_even_when_thin(tmp_path):
    score = np.full((40, 40), 0.1, "float32")
    label = np.zeros((40, 40), "uint8")
    predicted = np.zeros((40, 40), "uint8")
    label[5:30, 5:8] = 1  # a thin labelled shed the model does not see at all
    score[5:30, 5:8] = 0.9
    noise = write_noise(tmp_path / "n.tif", score)
    gdf = run(noise, write_classes(tmp_path / "c.tif", label, predicted))
    assert list(gdf["kind"]) == ["spurious"]


def test_boundary_width_decides_what_is_a_sliver(tmp_path):
    score = np.full((60, 60), 0.1, "float32")
    label = np.zeros((60, 60), "uint8")
    predicted = np.zeros((60, 60), "uint8")
    label[20:40, 10:30] = 1
    predicted[20:40, 16:36] = 1  # shifted by 6 px: two 6-pixel-wide slivers
    score[20:40, 10:16] = 0.9
    score[20:40, 30:36] = 0.9
    noise = write_noise(tmp_path / "n.tif", score)
    classes = write_classes(tmp_path / "c.tif", label, predicted)
    assert list(run(noise, classes, boundary_width=3)["kind"]) == ["boundary", "boundary"]
    assert list(run(noise, classes, boundary_width=2)["kind"]) == ["spurious", "missing"]


def test_multi_class_maps_have_class_changes(tmp_path):
    score = np.full((30, 30), 0.1, "float32")
    label = np.full((30, 30), 3, "uint8")
    predicted = label.copy()
    score[10:20, 10:20] = 0.95
    predicted[10:20, 10:20] = 2
    noise = write_noise(tmp_path / "n.tif", score)
    gdf = run(noise, write_classes(tmp_path / "c.tif", label, predicted))
    assert list(gdf["kind"]) == ["class_change"]
    assert (gdf["label_class"][0], gdf["predicted_class"][0]) == (3, 2)


def test_without_classes_the_class_attributes_are_null(known):
    gdf = run(known[0])
    assert len(gdf) == 4
    assert gdf["label_class"].isna().all() and gdf["predicted_class"].isna().all()
    assert set(gdf["kind"]) == {"unknown"}


def crafted_classes(tmp_path, score, label, predicted, **options):
    """:func:`run` on these arrays written as a noise map and its class companion."""
    noise = write_noise(tmp_path / "n.tif", score)
    return run(noise, write_classes(tmp_path / "c.tif", label, predicted), **options)


def test_kind_follows_the_pixels_where_label_and_model_disagree(tmp_path):
    """Majorities tie to the same class in a region as much missing as spurious; its
    pixels still disagree, so it is no 'unknown' (it was, with the classes there)."""
    score = np.full((20, 20), 0.1, "float32")
    label = np.zeros((20, 20), "uint8")
    predicted = np.zeros((20, 20), "uint8")
    score[3, 3:6] = 0.7  # two pixels missing, one spurious
    predicted[3, 3:5] = 1
    label[3, 5] = 1
    score[10, 10:12] = 0.6  # one spurious pixel beside one missing pixel
    label[10, 10] = 1
    predicted[10, 11] = 1
    gdf = crafted_classes(tmp_path, score, label, predicted)
    assert list(gdf["pixels"]) == [3, 2]
    assert list(gdf["kind"]) == ["missing", "boundary"]
    assert (gdf["label_class"][1], gdf["predicted_class"][1]) == (0, 0)  # the tied majorities


def test_multi_class_regions_with_tied_majorities_are_class_changes(tmp_path):
    score = np.full((20, 20), 0.1, "float32")
    label = np.full((20, 20), 2, "uint8")
    predicted = label.copy()
    score[5, 5:7] = 0.8
    label[5, 5:7] = [2, 3]
    predicted[5, 5:7] = [3, 2]
    gdf = crafted_classes(tmp_path, score, label, predicted)
    assert list(gdf["kind"]) == ["class_change"]


def test_regions_where_label_and_model_agree_are_uncertain(tmp_path):
    """Below a threshold of 0.5 a pixel can score high where the model agrees, unsure."""
    score = np.full((20, 20), 0.1, "float32")
    label = np.zeros((20, 20), "uint8")
    score[5:8, 5:8] = 0.4
    label[5:8, 5:8] = 1
    score[12:14, 12:14] = 0.9  # no label there: no class to compare
    label[12:14, 12:14] = 255
    predicted = label.copy()
    gdf = crafted_classes(tmp_path, score, label, predicted, threshold=0.3)
    assert list(gdf["kind"]) == ["uncertain", "unknown"]
    assert list(gdf["label_class"].fillna(-1)) == [1, -1]
