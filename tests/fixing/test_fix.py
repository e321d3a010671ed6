"""`geonoise fix` in the library: changes proposed where the model is confident, applied to raster
and vector labels, the review layer written, read back and checked."""

from __future__ import annotations

import hashlib

import numpy as np
import pyogrio
import pytest
import rasterio

from geonoise import io
from geonoise.errors import InvalidInputError, OutputExistsError
from geonoise.fixing.files import apply_file, propose_file
from geonoise.fixing.options import FixOptions
from geonoise.io.styles import embedded_style
from tests.conftest import CRS
from tests.fixing.conftest import AGREED, MISSING, SPURIOUS, UNSURE, building_map, set_status


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_raster_labels_fixed_where_confident_only(scene, tmp_path):
    before = digest(scene["labels"])
    summary = propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif")
    with rasterio.open(tmp_path / "fixed.tif") as src:
        fixed = src.read(1)
        assert (src.crs, src.transform, src.nodata) == (
            CRS,
            io.open_raster(scene["labels"]).transform,
            255,
        )
    assert (fixed[MISSING] == 1).all() and (fixed[SPURIOUS] == 0).all()
    assert (fixed[UNSURE] == 1).all() and (fixed[AGREED] == 1).all()  # unsure: untouched
    assert int((fixed != building_map()[1]).sum()) == summary.edits["pixels"] == 200
    assert summary.proposed == {"missing": 1, "spurious": 1}
    assert digest(scene["labels"]) == before  # the labels are never modified


def test_review_layer_lists_each_change_styled_with_its_labels(scene, tmp_path):
    propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif")
    review = io.read_vector(tmp_path / "fixed.review.gpkg", layer="review")
    assert list(review["kind"]) == ["missing", "spurious"]
    assert list(review["status"]) == ["proposed"] * 2
    assert list(review["to_class"]) == [1, 0]
    assert review["area"].tolist() == [25.0, 25.0]  # 100 pixels of 0.25 m²
    assert (review["mean_score"] > 0.9).all() and review.crs == CRS
    meta = pyogrio.read_info(tmp_path / "fixed.review.gpkg", layer="review")["layer_metadata"]
    assert meta["geonoise_labels"] == "labels.tif" and meta["geonoise_labels_mode"] == "raster"
    style = embedded_style(tmp_path / "fixed.review.gpkg", "review")
    assert "categorizedSymbol" in style and "lower(&quot;status&quot;)" in style


def test_thresholds_per_kind_hold_changes_back(scene, tmp_path):
    options = FixOptions(min_score_spurious=0.99, min_score_missing=0.5)
    summary = propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif", options=options)
    assert summary.proposed == {"missing": 1}
    options = FixOptions(min_score_missing=0.5, min_score_spurious=0.5, min_score_boundary=0.5)
    summary = propose_file(scene["labels"], scene["noise"], tmp_path / "all.tif", options=options)
    assert summary.proposed == {"missing": 1, "spurious": 2}  # the unsure building too


def test_vector_labels_lose_the_spurious_and_gain_the_missing_building(scene, tmp_path):
    before = digest(scene["vector"])
    options = FixOptions(class_field="class")
    summary = propose_file(
        scene["vector"], scene["noise"], tmp_path / "fixed.gpkg", options=options
    )
    fixed = io.read_vector(tmp_path / "fixed.gpkg")
    assert pyogrio.list_layers(tmp_path / "fixed.gpkg")[0][0] == "buildings"
    assert list(fixed.columns) == ["class", "name", "geometry"] and fixed.crs == CRS
    assert fixed["name"].tolist()[:2] == ["C", "D"] and fixed["name"].isna().tolist()[2]
    assert fixed["class"].tolist() == [1, 1, 1]
    assert fixed.geometry.iloc[2].area == pytest.approx(25.0, rel=0.05)  # the added building
    assert summary.edits == {"removed": 1, "added": 1, "reshaped": 0}
    review = io.read_vector(tmp_path / "fixed.review.gpkg", layer="review")
    assert review["label_feature"].fillna(0).tolist() == [0, 1]  # the spurious one: feature A
    assert digest(scene["vector"]) == before


@pytest.mark.parametrize("vector", [False, True])
def test_apply_honours_accepted_and_rejected(scene, tmp_path, vector):
    labels = scene["vector"] if vector else scene["labels"]
    fixed = tmp_path / ("fixed.gpkg" if vector else "fixed.tif")
    propose_file(
        labels, scene["noise"], fixed, options=FixOptions(class_field="class" if vector else None)
    )
    review = tmp_path / "fixed.review.gpkg"
    set_status(review, {"missing": " Accepted", "spurious": "REJECTED"})
    out = tmp_path / ("reviewed.gpkg" if vector else "reviewed.tif")
    summary = apply_file(labels, review, out, class_field="class" if vector else None)
    assert summary.applied == 1 and summary.proposed == {"missing": 1, "spurious": 1}
    if vector:
        assert io.read_vector(out)["name"].tolist()[:3] == ["A", "C", "D"]
        assert summary.edits == {"removed": 0, "added": 1, "reshaped": 0}
    else:
        with rasterio.open(out) as src:
            values = src.read(1)
        assert (values[MISSING] == 1).all() and (values[SPURIOUS] == 1).all()


def test_apply_refuses_unknown_statuses_naming_them(scene, tmp_path):
    propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif")
    set_status(tmp_path / "fixed.review.gpkg", {"missing": "maybe", "spurious": "ok"})
    with pytest.raises(InvalidInputError, match="'maybe', 'ok'") as err:
        apply_file(scene["labels"], tmp_path / "fixed.review.gpkg", tmp_path / "out.tif")
    assert err.value.option == "--apply" and err.value.exit_code == 2
    assert not (tmp_path / "out.tif").exists()


def test_apply_refuses_a_review_of_other_labels(scene, tmp_path, scene_factory):
    propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif")
    review = tmp_path / "fixed.review.gpkg"
    other = scene_factory("other.tif", 30, 30, count=1, data=np.zeros((1, 30, 30), "uint8"))
    for labels, out in ((other, "out.tif"), (scene["vector"], "out.gpkg")):
        with pytest.raises(InvalidInputError, match=r"was proposed for labels\.tif") as err:
            apply_file(labels, review, tmp_path / out)
        assert err.value.exit_code == 2


def test_apply_refuses_a_layer_that_is_no_review(scene, tmp_path):
    with pytest.raises(InvalidInputError, match="not a review layer"):
        apply_file(scene["labels"], scene["vector"], tmp_path / "out.tif")


def test_noise_map_of_other_labels_is_refused(scene, tmp_path, scene_factory):
    other = scene_factory("other.tif", 40, 40, count=1, data=np.ones((1, 40, 40), "uint8"))
    with pytest.raises(InvalidInputError, match="was not made from") as err:
        propose_file(other, scene["noise"], tmp_path / "fixed.tif")
    assert err.value.option == "--noise"


def test_outputs_refused_before_any_work(scene, tmp_path):
    (tmp_path / "fixed.review.gpkg").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"fixed\.review\.gpkg exists"):
        propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.tif")
    assert not (tmp_path / "fixed.tif").exists()
    with pytest.raises(InvalidInputError, match="the labels themselves"):
        propose_file(scene["labels"], scene["noise"], scene["labels"], overwrite=True)
    with pytest.raises(InvalidInputError, match="GeoTIFF"):
        propose_file(scene["labels"], scene["noise"], tmp_path / "fixed.gpkg")
