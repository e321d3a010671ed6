"""Noise maps of scenes: blended on the scene grid, scored, written whole or not at all."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geonoise.contracts import NODATA
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from geonoise.errors import InvalidInputError
from tests.conftest import PixelModel, scene_with_labels, write_scene


@pytest.mark.parametrize(
    ("width", "height", "window", "overlap", "chunk"),
    [(83, 61, 32, 12, None), (40, 100, 16, 5, None), (20, 13, 32, 8, None), (83, 61, 32, 12, 24)],
)
def test_blended_noise_map_equals_the_formula_everywhere(
    tmp_path, monkeypatch, width, height, window, overlap, chunk
):
    if chunk is not None:  # strips scored in column chunks that do not divide the width
        monkeypatch.setattr("geonoise.detection.scenes.STRIP_CHUNK", chunk)
    scene, labels, data, label = scene_with_labels(tmp_path, width, height)
    options = DetectOptions(window=window, overlap=overlap, batch_size=3, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    p_building = data[0] / 255.0
    expected = np.where(label == 1, 1 - p_building, p_building)
    invalid = (data == 0).all(axis=0) | (label == 255)
    expected[invalid] = NODATA
    with rasterio.open(scene) as src, rasterio.open(outputs.noise) as noise:
        assert (noise.crs, noise.transform, noise.shape) == (src.crs, src.transform, src.shape)
        assert noise.nodata == NODATA and noise.descriptions == ("noise_score",)
        np.testing.assert_allclose(noise.read(1), expected, atol=1e-6)
    with rasterio.open(outputs.classes) as classes:
        given, predicted = classes.read()
        np.testing.assert_array_equal(given, np.where((data == 0).all(axis=0), 255, label))
        assert set(np.unique(predicted)) <= {0, 1, 255}


def test_constant_model_and_confident_learning_thresholds(tmp_path):
    scene, labels, _, label = scene_with_labels(tmp_path, 50, 40, nodata_corner=False)

    class Constant(PixelModel):
        def predict(self, image):
            out = np.empty((image.shape[0], 2, *image.shape[2:]), np.float32)
            out[:, 0], out[:, 1] = 0.3, 0.7
            return out

    options = DetectOptions(window=16, overlap=4, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "sc.tif", options)
    detect_scene(str(scene), str(labels), Constant(), outputs, options)
    with rasterio.open(outputs.noise) as noise:
        values = noise.read(1)
    np.testing.assert_allclose(values[label == 0], 0.7, atol=1e-6)
    np.testing.assert_allclose(values[label == 1], 0.3, atol=1e-6)
    # Confident learning: thresholds are the mean p(label) per class (0.3 and 0.7), so the
    # calibrated probabilities are equal and every labelled pixel scores 0.5.
    cl = DetectOptions(window=16, overlap=4, quicklook=False, method="confident-learning")
    outputs = SceneOutputs.beside(tmp_path / "cl.tif", cl)
    summary = detect_scene(str(scene), str(labels), Constant(), outputs, cl)
    assert summary.class_thresholds == pytest.approx([0.3, 0.7])
    with rasterio.open(outputs.noise) as noise:
        np.testing.assert_allclose(noise.read(1)[label != 255], 0.5, atol=1e-6)


def test_tta_is_the_default_and_averages_the_eight_views_without_moving_pixels(tmp_path):
    scene, labels, data, label = scene_with_labels(tmp_path, 48, 48)
    plain = DetectOptions(window=16, overlap=0, quicklook=False, tta=False)
    model = PixelModel()
    detect_scene(
        str(scene), str(labels), model, SceneOutputs.beside(tmp_path / "a.tif", plain), plain
    )
    assert model.calls == 3  # three window rows, one batch each
    options = DetectOptions(window=16, overlap=0, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    model = PixelModel()
    detect_scene(str(scene), str(labels), model, outputs, options)
    assert model.calls == 8 * 3  # eight views per batch
    p_building = data[0] / 255.0
    valid = ~((data == 0).all(axis=0) | (label == 255))
    with rasterio.open(outputs.noise) as noise:
        values = noise.read(1)
    expected = np.where(label == 1, 1 - p_building, p_building)
    np.testing.assert_allclose(values[valid], expected[valid], atol=1e-6)


def test_a_model_giving_nan_scores_nothing_there(tmp_path):
    scene, labels, _, label = scene_with_labels(tmp_path, 64, 64)

    class NaNModel(PixelModel):
        def predict(self, image):
            probs = super().predict(image)
            probs[:, :, 10:12, 10:12] = np.nan  # 2×2 pixels of every 32-px window
            return probs

    options = DetectOptions(window=32, overlap=0, quicklook=False, tta=False)
    outputs = SceneOutputs.beside(tmp_path / "n.tif", options)
    summary = detect_scene(str(scene), str(labels), NaNModel(), outputs, options)
    with rasterio.open(outputs.noise) as noise:
        score = noise.read(1)
    assert not np.isnan(score).any()
    nan_pixels = np.zeros_like(score, bool)
    for top in (0, 32):
        for left in (0, 32):
            nan_pixels[top + 10 : top + 12, left + 10 : left + 12] = True
    assert (score[nan_pixels] == NODATA).all()
    with rasterio.open(scene) as src:
        valid = src.dataset_mask() > 0
    scored = valid & (label != 255) & ~nan_pixels
    assert summary.scored_pixels == int(scored.sum())
    assert np.isfinite(summary.mean_score)


class ReadOnlyModel(PixelModel):
    """Returns arrays it may keep (read-only), as a caching predictor could."""

    def predict(self, image):
        probs = super().predict(image)
        probs.setflags(write=False)
        return probs


def test_predictor_arrays_are_not_written_to(tmp_path):
    scene, labels, _, _ = scene_with_labels(tmp_path, 50, 40)
    options = DetectOptions(window=32, overlap=8, quicklook=False, tta=False)
    for name, model in (("plain", PixelModel()), ("read_only", ReadOnlyModel())):
        detect_scene(
            str(scene), str(labels), model, SceneOutputs.beside(tmp_path / f"{name}.tif", options),
            options,
        )  # fmt: skip
    with rasterio.open(tmp_path / "plain.tif") as a, rasterio.open(tmp_path / "read_only.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_probabilities_and_quicklook_and_styles(tmp_path):
    scene, labels, *_ = scene_with_labels(tmp_path, 64, 64)
    options = DetectOptions(window=32, overlap=8, probabilities=True)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    with rasterio.open(outputs.probabilities) as probs:
        assert probs.count == 2 and probs.descriptions == ("p(background)", "p(building)")
        values = probs.read()
        total = values.sum(axis=0)[values[0] != NODATA]
        np.testing.assert_allclose(total, 1, atol=1e-5)
    assert outputs.quicklook.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "noise.qml").exists() and (tmp_path / "noise.classes.qml").exists()
    with rasterio.open(outputs.noise) as noise:
        assert noise.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert noise.compression.name.lower() == "zstd"
        assert noise.overviews(1) == []  # 64 px: smaller than one 512-px COG block


def test_errors_leave_no_output(tmp_path):
    scene, labels, *_ = scene_with_labels(tmp_path, 40, 40)
    options = DetectOptions(window=16, overlap=0, quicklook=False)
    six = PixelModel(bands=6)
    with pytest.raises(InvalidInputError, match="takes 6 bands"):
        detect_scene(
            str(scene), str(labels), six, SceneOutputs.beside(tmp_path / "a.tif", options), options
        )
    many = write_scene(tmp_path / "many.tif", 40, 40, data=np.full((1, 40, 40), 4, "uint8"))
    with pytest.raises(InvalidInputError, match="class 4"):
        detect_scene(
            str(scene),
            str(many),
            PixelModel(),
            SceneOutputs.beside(tmp_path / "b.tif", options),
            options,
        )
    with pytest.raises(InvalidInputError, match="multiple of 8"):
        DetectOptions(window=20).window_for(PixelModel())
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["labels.tif", "many.tif", "scene.tif"]


def test_label_values_other_than_0_and_1_are_scored_and_written_as_values(tmp_path):
    """A model of the classes 3 and 7: scores pick p(7) for label 7; predictions are 3 or 7."""
    scene, _, data, label = scene_with_labels(tmp_path, 40, 40, nodata_corner=False)
    values = np.where(label == 1, 7, np.where(label == 0, 3, label)).astype("uint8")
    labels = write_scene(tmp_path / "values.tif", 40, 40, data=values[None])
    model = PixelModel()
    model.meta.class_values = [3, 7]
    options = DetectOptions(window=16, overlap=4, quicklook=False, tta=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), model, outputs, options)
    p_seven = data[0] / 255.0
    expected = np.where(values == 7, 1 - p_seven, p_seven)
    with rasterio.open(outputs.noise) as noise, rasterio.open(outputs.classes) as classes:
        score, (given, predicted) = noise.read(1), classes.read()
    labelled = values != 255
    np.testing.assert_allclose(score[labelled], expected[labelled], atol=1e-6)
    np.testing.assert_array_equal(given, values)
    assert set(np.unique(predicted[labelled])) <= {3, 7}
    np.testing.assert_array_equal(predicted[labelled] == 7, (p_seven > 0.5)[labelled])
    bad = write_scene(tmp_path / "bad.tif", 40, 40, data=np.ones((1, 40, 40), "uint8"))
    with pytest.raises(InvalidInputError, match=r"has class 1, but .* classes 3 \(background\)"):
        detect_scene(
            str(scene), str(bad), model, SceneOutputs.beside(tmp_path / "b.tif", options), options
        )
