"""``geonoise export``: the library function and the command, through the geonoise group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from geonoise.errors import InvalidInputError, OutputExistsError, ReadError
from geonoise.models.checkpoint import read_checkpoint
from geonoise.models.export import ExportMismatchError, export_onnx
from geonoise.models.inference import OnnxPredictor, open_predictor
from tests.conftest import BANDS, CLASSES, make_model_file, raw_pixels
from tests.conftest import run_cli as run


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("model") / "student.ckpt")


@pytest.fixture(scope="module")
def exported(model_file) -> tuple[Path, dict]:
    path = model_file.with_name("student.onnx")
    return path, export_onnx(model_file, path)


# library


def test_export_checks_itself_against_torch(exported):
    path, summary = exported
    assert summary.output == str(path) and summary.size == path.stat().st_size > 0
    assert summary.opset == 17 and 0 <= summary.max_abs_diff <= 1e-4
    assert summary.bands == BANDS and summary.multiple == 8
    assert len({tuple(size) for size in summary.sizes_checked}) == 2


def test_graph_has_dynamic_batch_height_width(exported):
    graph = onnx.load(exported[0]).graph
    (image,), (probabilities,) = graph.input, graph.output
    assert image.name == "image" and probabilities.name == "probabilities"
    image_dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in probabilities.type.tensor_type.shape.dim]
    assert image_dims == ["batch", BANDS, "height", "width"]
    assert out_dims == ["batch", CLASSES, "height", "width"]


def test_metadata_props_carry_the_checkpoint_meta(exported, model_file):
    props = {p.key: p.value for p in onnx.load(exported[0]).metadata_props}
    meta, _ = read_checkpoint(model_file)
    assert json.loads(props["geonoise_meta"]) == meta.to_dict()
    assert props["bands"] == "4" and props["classes"] == "background,building,road"
    assert props["tile_size"] == "64" and props["geonoise_version"] == meta.geonoise_version
    assert props["multiple"] == "8" and props["role"] == "student"
    assert OnnxPredictor(exported[0]).meta == meta


def test_existing_output_is_refused_before_any_work(tmp_path):
    output = tmp_path / "model.onnx"
    output.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_onnx(tmp_path / "no-such.ckpt", output)  # refused before reading the model
    assert output.read_bytes() == b"keep me"


def test_failed_check_leaves_nothing(model_file, tmp_path, monkeypatch):
    monkeypatch.setattr("geonoise.models.export.TOLERANCE", -1.0)
    with pytest.raises(ExportMismatchError, match="disagree"):
        export_onnx(model_file, tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "opset", "option"), [("model.ckpt", 17, "--output"), ("m.onnx", 12, "--opset")]
)
def test_bad_arguments(model_file, tmp_path, output, opset, option):
    with pytest.raises(InvalidInputError) as info:
        export_onnx(model_file, tmp_path / output, opset=opset)
    assert info.value.option == option and not (tmp_path / output).exists()


def test_not_a_model_file(tmp_path):
    source = tmp_path / "notes.ckpt"
    source.write_text("not a model\n")
    with pytest.raises(ReadError, match=r"notes\.ckpt"):
        export_onnx(source, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# command line


def test_cli_writes_onnx_and_prints_its_path(model_file, tmp_path):
    output = tmp_path / "out" / "student.onnx"
    result = run("-q", "export", model_file, "-o", output, "--opset", 18)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(output)
    predictor = open_predictor(output, device="cpu")
    probabilities = predictor.predict(raw_pixels(1, 48, 40))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert onnx.load(output).opset_import[0].version == 18


def test_cli_json_summary(model_file, tmp_path):
    output = tmp_path / "student.onnx"
    result = run("export", model_file, "-o", output, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["output"] == str(output) and summary["size"] == output.stat().st_size
    assert summary["opset"] == 17 and summary["max_abs_diff"] <= 1e-4


def test_cli_refuses_existing_output_and_overwrites_on_request(model_file, tmp_path):
    output = tmp_path / "student.onnx"
    output.write_bytes(b"keep me")
    result = run("export", model_file, "-o", output)
    assert result.exit_code == 1
    assert "--overwrite" in result.stderr and str(output) in result.stderr
    assert output.read_bytes() == b"keep me" and result.stdout == ""
    result = run("-q", "export", model_file, "-o", output, "--overwrite", "--no-check")
    assert result.exit_code == 0, result.output
    assert OnnxPredictor(output).meta.class_names == ["background", "building", "road"]


def test_cli_not_a_model_file(tmp_path):
    source = tmp_path / "notes.ckpt"
    source.write_text("not a model\n")
    result = run("export", source, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert "notes.ckpt" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "opset", "message"), [("m.onnx", 12, "--opset"), ("model.pt", 17, "--output")]
)
def test_cli_usage_errors(model_file, tmp_path, name, opset, message):
    result = run("export", model_file, "-o", tmp_path / name, "--opset", opset)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / name).exists()


def test_cli_help_has_an_example():
    result = run("export", "--help")
    assert result.exit_code == 0
    assert "geonoise export student.ckpt -o student.onnx" in result.output
