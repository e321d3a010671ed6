"""Inference backends: PyTorch and ONNX Runtime give the same probabilities from raw pixels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from geonoise.errors import InvalidInputError, ReadError
from geonoise.models.checkpoint import read_checkpoint, save_model
from geonoise.models.export import export_onnx
from geonoise.models.inference import (
    OnnxPredictor,
    Predictor,
    TorchPredictor,
    open_predictor,
)
from geonoise.models.nrn_rsseg import NRNRSSEG, ModelConfig
from tests.conftest import (
    BANDS,
    CLASSES,
    MEAN,
    MEAN_PX,
    STD,
    STD_PX,
    make_model_file,
    raw_pixels,
)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("model") / "student.ckpt")


@pytest.fixture(scope="module")
def onnx_file(model_file) -> Path:
    path = model_file.with_suffix(".onnx")
    export_onnx(model_file, path, check=False)
    return path


@pytest.fixture(scope="module")
def torch_predictor(model_file) -> TorchPredictor:
    predictor = open_predictor(model_file, device="cpu")
    assert isinstance(predictor, TorchPredictor)
    return predictor


@pytest.fixture(scope="module")
def onnx_predictor(onnx_file) -> OnnxPredictor:
    predictor = open_predictor(onnx_file, device="cpu")
    assert isinstance(predictor, OnnxPredictor)
    return predictor


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 96, 160), (2, 32, 256), (1, 8, 8)])
def test_onnx_and_torch_agree_at_any_batch_and_size(torch_predictor, onnx_predictor, shape):
    image = raw_pixels(*shape)
    expected = torch_predictor.predict(image)
    got = onnx_predictor.predict(image)
    assert got.shape == expected.shape == (shape[0], CLASSES, *shape[1:])
    assert got.dtype == expected.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-4


def test_probabilities_are_a_distribution(torch_predictor, onnx_predictor):
    image = raw_pixels(2, 64, 96, seed=1)
    for predictor in (torch_predictor, onnx_predictor):
        probabilities = predictor.predict(image)
        assert probabilities.min() >= 0 and probabilities.max() <= 1
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_normalisation_is_inside_the_predictor(model_file, torch_predictor, onnx_predictor):
    from geonoise.models.checkpoint import load_model

    model, _ = load_model(model_file)
    image = raw_pixels(1, 64, 64, seed=2)
    normalised = (image - MEAN_PX) / STD_PX
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(normalised))[0], dim=1).numpy()
    for predictor in (torch_predictor, onnx_predictor):
        assert np.abs(predictor.predict(image) - expected).max() <= 1e-4
        assert np.abs(predictor.predict(normalised) - expected).max() > 1e-3


def test_channels_last_does_not_change_the_result(model_file, torch_predictor):
    from geonoise.models.checkpoint import load_model

    model, meta = load_model(model_file)
    plain = TorchPredictor(model, meta, channels_last=False)
    assert torch_predictor.channels_last and not plain.channels_last
    image = raw_pixels(2, 64, 64, seed=3)
    assert np.abs(plain.predict(image) - torch_predictor.predict(image)).max() <= 1e-5


def test_integer_pixels_are_accepted(onnx_predictor):
    image = np.random.default_rng(4).integers(0, 255, (1, BANDS, 32, 32), dtype=np.uint8)
    assert onnx_predictor.predict(image).shape == (1, CLASSES, 32, 32)


def test_metadata_round_trips_through_onnx(model_file, torch_predictor, onnx_predictor):
    meta, _ = read_checkpoint(model_file)
    assert onnx_predictor.meta == torch_predictor.meta == meta
    assert onnx_predictor.multiple == torch_predictor.multiple == 8
    assert isinstance(onnx_predictor, Predictor) and isinstance(torch_predictor, Predictor)
    assert onnx_predictor.providers == ["CPUExecutionProvider"]


def test_threads_are_set(onnx_file):
    predictor = OnnxPredictor(onnx_file, providers=["CPUExecutionProvider"], threads=1)
    assert predictor.session.get_session_options().intra_op_num_threads == 1


def test_spinning_can_be_turned_off_with_the_same_outputs(onnx_file):
    image = np.random.default_rng(5).uniform(0, 255, (2, BANDS, 32, 32)).astype(np.float32)
    spinning = OnnxPredictor(onnx_file, providers=["CPUExecutionProvider"])
    idle = OnnxPredictor(onnx_file, providers=["CPUExecutionProvider"], spin=False)
    entry = "session.intra_op.allow_spinning"
    assert idle.session.get_session_options().get_session_config_entry(entry) == "0"
    with pytest.raises(Exception, match="does not have configuration"):
        spinning.session.get_session_options().get_session_config_entry(entry)  # ORT default
    np.testing.assert_array_equal(idle.predict(image), spinning.predict(image))


@pytest.mark.parametrize("shape", [(1, BANDS - 1, 32, 32), (1, BANDS + 1, 32, 32)])
def test_wrong_band_count_is_refused(torch_predictor, onnx_predictor, shape):
    for predictor in (torch_predictor, onnx_predictor):
        with pytest.raises(InvalidInputError, match=f"takes {BANDS} bands"):
            predictor.predict(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(BANDS, 32, 32), (1, BANDS, 30, 32), (1, BANDS, 32, 36)])
def test_bad_batch_shape_is_refused(onnx_predictor, torch_predictor, shape):
    for predictor in (torch_predictor, onnx_predictor):
        with pytest.raises(InvalidInputError):
            predictor.predict(np.zeros(shape, np.float32))


@pytest.mark.parametrize("name", ["notes.ckpt", "notes.onnx"])
def test_not_a_model_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("not a model\n")
    with pytest.raises(ReadError, match=re.escape(name)):
        open_predictor(path, device="cpu")


@pytest.mark.parametrize("name", ["missing.ckpt", "missing.onnx"])
def test_missing_file(tmp_path, name):
    with pytest.raises(ReadError, match=re.escape(name)):
        open_predictor(tmp_path / name, device="cpu")


def test_onnx_without_geonoise_metadata(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Softmax", ["image"], ["probabilities"], axis=1)],
        "plain",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", BANDS, "h", "w"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ReadError, match=r"no geonoise metadata.*geonoise export"):
        open_predictor(path, device="cpu")


@pytest.mark.parametrize("fixture", ["model_file", "onnx_file"])
def test_cuda_without_cuda_names_the_option(request, fixture):
    import onnxruntime

    has_cuda = (
        "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        if fixture == "onnx_file"
        else torch.cuda.is_available()
    )
    if has_cuda:
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidInputError, match="--device") as info:
        open_predictor(request.getfixturevalue(fixture), device="cuda")
    assert info.value.option == "--device"


def test_pixels_without_data_are_given_the_band_mean_by_both_backends(
    torch_predictor, onnx_predictor, onnx_file
):
    image = raw_pixels(1, 32, 32, seed=6)
    filled = image.copy()
    image[0, :, 3:9, 4:12] = np.nan
    filled[0, :, 3:9, 4:12] = MEAN_PX
    for predictor in (torch_predictor, onnx_predictor):
        np.testing.assert_allclose(predictor.predict(image), predictor.predict(filled), atol=1e-6)
    # the exported graph itself maps NaN to the mean (for users of the .onnx file)
    (raw,) = onnx_predictor.session.run(["probabilities"], {"image": image})
    np.testing.assert_allclose(raw, onnx_predictor.predict(filled), atol=1e-5)


def test_robust_bounds_clip_pixels_in_both_backends(tmp_path):
    path = make_model_file(tmp_path / "clipped.ckpt")
    meta, weights = read_checkpoint(path)
    meta.band_low = [m - s for m, s in zip(MEAN, STD, strict=True)]
    meta.band_high = [m + s for m, s in zip(MEAN, STD, strict=True)]
    model = NRNRSSEG(ModelConfig.from_dict(meta.model))
    model.load_state_dict(weights)
    save_model(path, model, meta)
    export_onnx(path, tmp_path / "clipped.onnx")
    image = raw_pixels(1, 32, 32, seed=7)
    bright = image.copy()
    bright[0, :, :8, :8] = 1e6  # far past the upper bound: the same as the bound itself
    at_bound = image.copy()
    at_bound[0, :, :8, :8] = np.asarray(meta.band_high, np.float32)[:, None, None]
    for predictor in (open_predictor(path, "cpu"), open_predictor(tmp_path / "clipped.onnx")):
        np.testing.assert_allclose(
            predictor.predict(bright), predictor.predict(at_bound), atol=1e-5
        )
