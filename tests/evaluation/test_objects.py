"""Object metrics on hand-made polygons whose cover of the truth objects is known."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from geonoise.evaluation.objects import object_metrics
from tests.conftest import CRS

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


def test_object_curve_cuts_polygons_at_their_score():
    from geonoise.evaluation.objects import object_curve

    # A and C found by high-scoring polygons; the far polygon (wrong) scores in between.
    shapes = [box(0, 0, 6, 10), box(40, 0, 47, 10), box(500, 500, 510, 510), box(20, 0, 26, 10)]
    scored = gpd.GeoDataFrame({"mean_score": [0.9, 0.8, 0.7, 0.6]}, geometry=shapes, crs=CRS)
    curve = object_curve(scored, OBJECTS, recall_floor=0.5)
    assert curve.cutoffs == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert curve.polygons == [4, 3, 2, 1]
    assert curve.recall == [0.75, 0.5, 0.5, 0.25]
    assert curve.precision == pytest.approx([0.75, 2 / 3, 1.0, 1.0])
    # recall 0.5 is kept down to the cut-off 0.8, where precision is 1
    assert (curve.precision_at_recall, curve.cutoff_at_recall) == (1.0, pytest.approx(0.8))
    unreachable = object_curve(scored, OBJECTS, recall_floor=0.9)
    assert unreachable.precision_at_recall is None and unreachable.cutoff_at_recall is None
    assert object_curve(scored.drop(columns="mean_score"), OBJECTS) is None
