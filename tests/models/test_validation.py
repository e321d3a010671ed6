"""Model files are checked as they are opened: bounds, normalisation, graph, one-line errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from geonoise.data.stats import STD_FLOOR, compute_band_stats
from geonoise.errors import ReadError
from geonoise.models.checkpoint import ModelMeta, load_model, read_checkpoint, save_model
from geonoise.models.export import ExportMismatchError, export_onnx
from geonoise.models.inference import OnnxPredictor, _session, open_predictor
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from geonoise.models.validation import MAX_REASON, one_line
from tests.conftest import make_model_file, run_cli, scene_with_labels


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("model") / "student.ckpt")


def rewrite(source: Path, path: Path, **meta) -> Path:
    """A copy of the model file ``source`` at ``path`` with some meta fields replaced."""
    content = torch.load(source, weights_only=True)
    torch.save({**content, "meta": {**content["meta"], **meta}}, path)
    return path


def rewrite_onnx(source: Path, path: Path, **meta) -> Path:
    """A copy of the ONNX export ``source`` at ``path`` with some meta fields replaced."""
    model = onnx.load(source)
    for prop in model.metadata_props:
        if prop.key == "geonoise_meta":
            prop.value = json.dumps({**json.loads(prop.value), **meta})
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    ("std", "shown"), [(0.0, "0.0"), (-2.0, "-2.0"), (float("nan"), "nan"), (float("inf"), "inf")]
)
def test_a_band_deviation_that_is_not_positive_and_finite_is_refused(
    model_file, tmp_path, std, shown
):
    bad = rewrite(model_file, tmp_path / "flat.ckpt", band_std=[20.0, std, 40.0, 50.0])
    with pytest.raises(ReadError, match=rf"flat\.ckpt .*band_std of band 2 is {shown}"):
        load_model(bad)


def test_onnx_metadata_is_checked_like_a_checkpoint(model_file, tmp_path):
    exported = tmp_path / "student.onnx"
    export_onnx(model_file, exported, check=False)
    bad = rewrite_onnx(exported, tmp_path / "flat.onnx", band_mean=[90.0, float("nan"), 1, 2])
    with pytest.raises(ReadError, match=r"flat\.onnx .*band_mean of band 2 is nan"):
        OnnxPredictor(bad)


def test_normalisation_of_the_wrong_length_names_the_file(model_file, tmp_path):
    bad = rewrite(model_file, tmp_path / "short.ckpt", band_mean=[100.0])
    with pytest.raises(ReadError, match=r"short\.ckpt .*band_mean has 1 values for .* 4 bands"):
        open_predictor(bad, "cpu")


@pytest.mark.parametrize("tile_size", [0, 10**9])
def test_detect_names_the_model_file_and_field_of_a_bad_tile_size(model_file, tmp_path, tile_size):
    bad = rewrite(model_file, tmp_path / "odd.ckpt", tile_size=tile_size)
    scene, labels, *_ = scene_with_labels(tmp_path, 24, 20)
    result = run_cli("-q", "detect", scene, "-l", labels, "-m", bad, "-o", tmp_path / "noise.tif")
    assert result.exit_code == 1 and "--overlap" not in result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
    assert "odd.ckpt has unusable geonoise metadata: tile_size must be from 8 to 8192" in (
        result.stderr
    )  # 8: the network's size multiple


def test_weights_are_checked_against_the_network_before_it_is_built(model_file, tmp_path):
    wide = model_config("tiny", in_channels=4, num_classes=3, base_width=512)  # 4096 wide
    bad = rewrite(model_file, tmp_path / "wide.ckpt", model=wide.to_dict())
    with pytest.raises(ReadError, match=r"wide\.ckpt does not match .*needs \[512, 4, 3, 3\]"):
        load_model(bad)


def test_a_model_trained_on_a_constant_band_loads_and_gives_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    tiles = [
        {
            "image": torch.from_numpy(
                np.stack([rng.normal(100, 20, (16, 16)), np.full((16, 16), 7.0)])
            ),
            "mask": torch.zeros(16, 16, dtype=torch.int64),
        }
        for _ in range(3)
    ]
    stats = compute_band_stats(tiles)
    assert stats.std[1] == STD_FLOOR  # a floor: standardising stays finite
    config = model_config("tiny", in_channels=2)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["background", "building"],
        band_mean=stats.mean,
        band_std=stats.std,
        band_low=stats.low,
        band_high=stats.high,
        tile_size=16,
    )
    save_model(tmp_path / "flat.ckpt", NRNRSSEG(config), meta)
    image = np.stack([rng.normal(100, 20, (16, 16)), np.full((16, 16), 9.0)])[None]
    probabilities = open_predictor(tmp_path / "flat.ckpt", "cpu").predict(image)
    assert np.isfinite(probabilities).all()


def test_export_check_fails_on_nan_probabilities(model_file, tmp_path):
    meta, weights = read_checkpoint(model_file)
    model = NRNRSSEG(model_config("tiny", in_channels=4, num_classes=3))
    model.load_state_dict({k: v.fill_(1e30) if v.dim() > 1 else v for k, v in weights.items()})
    save_model(tmp_path / "overflow.ckpt", model, meta)
    with pytest.raises(ExportMismatchError, match=r"NaN or infinite .*overflow\.ckpt"):
        export_onnx(tmp_path / "overflow.ckpt", tmp_path / "overflow.onnx")
    assert not (tmp_path / "overflow.onnx").exists()


def test_library_messages_are_folded_into_one_line():
    message = "[ONNXRuntimeError] : 1 : FAIL : Load failed:\n  \x1b[1mnode\x1b[0m Conv_3\n\n bad"
    assert (
        one_line(RuntimeError(message))
        == "[ONNXRuntimeError] : 1 : FAIL : Load failed: node Conv_3 bad"
    )
    assert one_line(EOFError()) == "EOFError"
    long = one_line(ValueError("x" * 1000))
    assert len(long) == MAX_REASON and long.endswith("…")


@pytest.fixture(scope="module")
def onnx_bytes(model_file, tmp_path_factory) -> bytes:
    exported = tmp_path_factory.mktemp("onnx") / "student.onnx"
    export_onnx(model_file, exported, check=False)
    return exported.read_bytes()


def damaged(data: bytes, near: bytes, path: Path) -> Path:
    """``data`` with the byte after the first ``near`` made invalid UTF-8, written to ``path``."""
    at = data.index(near) + 1
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    return path


@pytest.mark.parametrize(
    ("near", "reason"),
    [
        (b"image", "utf-8"),  # ORT's own fallback printed a banner to stdout for it
        (b"probabilities", "Graph output .* does not exist"),  # C++ source line dropped
        (b'"role": "student"', "utf-8"),  # its metadata cannot be decoded
    ],
)
def test_onnx_runtime_errors_are_one_line(onnx_bytes, tmp_path, capsys, near, reason):
    bad = damaged(onnx_bytes, near, tmp_path / "broken.onnx")
    with pytest.raises(ReadError, match=rf"broken\.onnx.*: .*{reason}") as info:
        OnnxPredictor(bad, providers=["CPUExecutionProvider"])
    assert "\n" not in str(info.value) and "onnxruntime_src" not in str(info.value)
    assert "EP Error" not in capsys.readouterr().out


def test_onnx_runtime_errors_at_run_time_are_one_line(model_file, tmp_path):
    exported = tmp_path / "student.onnx"
    export_onnx(model_file, exported, check=False)
    predictor = OnnxPredictor(exported, providers=["CPUExecutionProvider"])

    class Failing:
        def run(self, *args):
            raise RuntimeError(
                "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input\n"
                " index: 1 Got: 5 Expected: 4\n Please fix either the inputs or the model."
            )

    predictor.session = Failing()
    message = "ONNX Runtime cannot run .*student.onnx: INVALID_ARGUMENT : Got invalid dimensions "
    with pytest.raises(ReadError, match=message + "for input index: 1 Got: 5 Expected: 4 Please"):
        predictor.predict(np.zeros((1, 4, 8, 8), np.float32))


def test_a_failing_accelerator_falls_back_to_the_cpu_with_a_warning(monkeypatch, caplog):
    calls = []

    def session(path, options, providers, enable_fallback):
        calls.append(providers)
        if providers[0] != "CPUExecutionProvider":
            raise RuntimeError("CUDA failed\nsecond line")
        return "session"

    monkeypatch.setattr("onnxruntime.InferenceSession", session)
    with caplog.at_level(logging.WARNING, logger="geonoise.models.inference"):
        assert _session(Path("m.onnx"), None, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert calls[-1] == ["CPUExecutionProvider"] and "CUDA failed second line" in caplog.text
    monkeypatch.setattr("onnxruntime.InferenceSession", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        _session(Path("m.onnx"), None, ["CPUExecutionProvider"])
