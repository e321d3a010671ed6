"""Model sets: cross-fitted models each score their held-out region; others average."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from pyproj import CRS as ProjCRS
from shapely import box

from geonoise.contracts import NODATA
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from geonoise.errors import InvalidInputError
from geonoise.models.modelset import model_set
from tests.conftest import CRS, ORIGIN, RES, PixelModel, scene_with_labels

WIDTH, HEIGHT = 83, 61


class Constant(PixelModel):
    """p(building) = ``value`` everywhere, optionally blind to the labels of ``cols``."""

    def __init__(self, value: float, cols: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.value = value
        if cols is not None:
            x0, y0 = ORIGIN
            region = box(x0 + cols[0] * RES, y0 - HEIGHT * RES, x0 + cols[1] * RES, y0)
            self.meta.holdout = {"crs": ProjCRS.from_user_input(CRS).to_wkt(), "wkt": region.wkt}

    def predict(self, image: np.ndarray) -> np.ndarray:
        out = np.empty((image.shape[0], 2, *image.shape[2:]), np.float32)
        out[:, 0], out[:, 1] = 1 - self.value, self.value
        return out


def building_probability(tmp_path, models, lanes: int = 1) -> tuple[np.ndarray, np.ndarray, dict]:
    """p(building) the noise map implies at every scored pixel, and the valid mask."""
    scene, labels, _, label = scene_with_labels(tmp_path, WIDTH, HEIGHT)
    options = DetectOptions(window=32, overlap=12, batch_size=3, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    models = model_set(models, lanes=lanes)
    summary = detect_scene(str(scene), str(labels), models, outputs, options)
    with rasterio.open(outputs.noise) as noise:
        score = noise.read(1)
    valid = score != NODATA
    return np.where(label == 1, 1 - score, score), valid, summary


def test_each_fold_scores_only_its_held_out_region_without_seams(tmp_path):
    p, valid, summary = building_probability(
        tmp_path, [Constant(0.2, cols=(0, 40)), Constant(0.8, cols=(40, WIDTH))]
    )
    expected = np.where(np.arange(WIDTH) < 40, 0.2, 0.8)[None].repeat(HEIGHT, 0)
    np.testing.assert_allclose(p[valid], expected[valid], atol=1e-6)
    assert summary.models == 2 and summary.in_sample_window_pixels == 0


def test_models_without_region_score_everywhere_and_average(tmp_path):
    p, valid, summary = building_probability(tmp_path, [Constant(0.2, cols=(0, 40)), Constant(0.6)])
    expected = np.where(np.arange(WIDTH) < 40, 0.4, 0.6)[None].repeat(HEIGHT, 0)
    np.testing.assert_allclose(p[valid], expected[valid], atol=1e-6)
    assert "in_sample_window_pixels" in summary.to_dict()


def test_pixels_in_no_held_out_region_get_all_models_and_are_counted(tmp_path):
    p, valid, summary = building_probability(
        tmp_path, [Constant(0.2, cols=(0, 40)), Constant(0.8, cols=(40, 70))]
    )
    expected = np.select([np.arange(WIDTH) < 40, np.arange(WIDTH) < 70], [0.2, 0.8], default=0.5)[
        None
    ].repeat(HEIGHT, 0)
    np.testing.assert_allclose(p[valid], expected[valid], atol=1e-6)
    assert summary.in_sample_window_pixels > 0


def test_lanes_score_batches_side_by_side_with_the_same_result(tmp_path):
    models = [Constant(0.2, cols=(0, 40)), Constant(0.8, cols=(40, 70))]  # 70..83: no fold
    (tmp_path / "one").mkdir()
    (tmp_path / "three").mkdir()
    one = building_probability(tmp_path / "one", models, lanes=1)
    three = building_probability(tmp_path / "three", models, lanes=3)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    assert one[2].in_sample_window_pixels == three[2].in_sample_window_pixels > 0


def test_an_error_in_a_lane_stops_the_run_and_leaves_nothing(tmp_path):
    import threading

    class Failing(Constant):
        def predict(self, image):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("model broke on batch 3")
            return super().predict(image)

    scene, labels, _, _ = scene_with_labels(tmp_path, WIDTH, HEIGHT)
    options = DetectOptions(window=32, overlap=12, batch_size=1, quicklook=False, tta=False)
    outputs = SceneOutputs.beside(tmp_path / "out" / "noise.tif", options)
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="batch 3"):
        detect_scene(str(scene), str(labels), model_set([Failing(0.5)], lanes=2), outputs, options)
    assert list((tmp_path / "out").iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("geonoise-")]


def test_open_models_gives_lanes_to_onnx_on_the_cpu_only(tmp_path, monkeypatch):
    from geonoise import parallel
    from geonoise.models.export import export_onnx
    from geonoise.models.modelset import open_models
    from tests.conftest import make_model_file

    monkeypatch.setattr(parallel, "available_cpus", lambda: 4)
    checkpoint = make_model_file(tmp_path / "m.ckpt")
    onnx = tmp_path / "m.onnx"
    export_onnx(checkpoint, onnx)
    onnx_set = open_models([str(onnx), str(onnx)], "cpu", lanes=2)
    assert onnx_set.lanes == 2
    for member in onnx_set.members:  # 2 callers + 2 pool workers (the caller counts) = 4 CPUs
        assert member.predictor.session.get_session_options().intra_op_num_threads == 3
    assert open_models([str(onnx)], "cpu").lanes == 1
    assert open_models([str(checkpoint)], "cpu", lanes=2).lanes == 1  # PyTorch: one lane
    assert open_models([str(onnx), str(checkpoint)], "cpu", lanes=2).lanes == 1


def test_models_of_a_set_must_agree_on_bands_and_classes():
    with pytest.raises(InvalidInputError, match="must agree"):
        model_set([PixelModel(bands=3), PixelModel(bands=4)])


def test_holdout_survives_onnx_export(tmp_path):
    import torch

    from geonoise.models.checkpoint import save_model
    from geonoise.models.export import export_onnx
    from geonoise.models.modelset import open_models
    from geonoise.models.nrn_rsseg import NRNRSSEG, model_config

    meta = Constant(0.5, cols=(0, 40)).meta
    checkpoint = tmp_path / "fold1.ckpt"
    torch.manual_seed(0)
    save_model(checkpoint, NRNRSSEG(model_config("tiny")).eval(), meta)
    export_onnx(checkpoint, tmp_path / "fold1.onnx")
    models = open_models([str(tmp_path / "fold1.onnx"), str(checkpoint)], "cpu")
    assert models.cross_fitted
    regions = [m.holdout for m in models.members]
    assert regions[0].equals(regions[1])
    assert regions[0].area == pytest.approx(40 * RES * HEIGHT * RES)
    assert json.loads(json.dumps(models.meta.holdout)) == meta.holdout


def test_tile_mode_scores_each_tile_with_the_model_that_held_it_out(tmp_path):
    from geonoise.data.datasets import open_tiles
    from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
    from geonoise.detection.tiles import RankOptions, rank_tiles

    scene, labels, _, _ = scene_with_labels(tmp_path, 64, 64, nodata_corner=False)
    opts = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "tiles", opts)
    dataset = open_tiles(str(tmp_path / "tiles"))
    models = model_set([Constant(0.1, cols=(0, 32)), Constant(0.9, cols=(32, 64))])
    out = tmp_path / "ranking"
    rank_tiles(dataset, models, out, DetectOptions(quicklook=False), RankOptions())
    for index in range(len(dataset)):
        sample = dataset[index]
        label = sample["mask"].numpy()
        with rasterio.open(out / "noise" / f"{sample['tile_id']}.tif") as noise:
            score = noise.read(1)
        p = np.where(label == 1, 1 - score, score)[label != 255]
        expected = 0.1 if sample["tile_id"].endswith("_c000000") else 0.9
        np.testing.assert_allclose(p, expected, atol=1e-6)


def test_models_whose_training_learned_nothing_are_named():
    learned, not_learned = PixelModel(), PixelModel()
    diagnosis = {
        "learned": False,
        "classes": [
            {"name": "background", "learned": True},
            {"name": "building", "learned": False},
        ],
    }
    not_learned.meta.training = {"diagnosis": diagnosis}
    models = model_set([learned, not_learned], ["a.ckpt", "b.ckpt"])
    assert not_learned.meta.unlearned == ["building"] and learned.meta.unlearned == []
    assert len(models.warnings) == 1
    assert models.warnings[0].startswith("b.ckpt learned nothing of building in training")
