"""A seeded fuzz of model files: every broken ``.ckpt`` or ``.onnx`` gives one clear error.

A tiny valid model file and its ONNX export are mutated (bytes cut, flipped or
replaced; the container rewritten; above all the geonoise metadata rewritten
with wrong types, missing keys, zero, negative, huge or NaN values and lengths
that do not match) and each mutant goes through ``geonoise detect`` and, for
checkpoints, ``geonoise export``. A mutant must be refused with exit 1 or 2 and
one ``Error:`` line naming the file (no "unexpected", no traceback), and leave
nothing in the output folder. A few flipped bytes can land in weights and leave
a model that works: those mutants may also succeed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from click.testing import Result

from geonoise.models.checkpoint import ModelMeta, save_model
from geonoise.models.export import export_onnx
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from tests.conftest import run_cli, scene_with_labels
from tests.robustness.mutations import flipped, random_bytes, truncated

SEED = 11
WGS84_WKT = 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]'

Meta = dict[str, Any]


def _set(**values: Any) -> Callable[[Meta], Any]:
    return lambda meta: {**meta, **values}


def _drop(key: str) -> Callable[[Meta], Any]:
    return lambda meta: {k: v for k, v in meta.items() if k != key}


def _model(**values: Any) -> Callable[[Meta], Any]:
    return lambda meta: {**meta, "model": {**meta["model"], **values}}


def _widen(bands: int) -> Callable[[Meta], Any]:
    """Bands the network does not take, with consistent statistics."""
    stats = {k: [1.0] * bands for k in ("band_mean", "band_std")}
    stats.update(band_low=[0.0] * bands, band_high=[255.0] * bands)
    return lambda meta: {**meta, "model": {**meta["model"], "in_channels": bands}, **stats}


NAN, INF = math.nan, math.inf

#: Rewrites of the geonoise metadata, the same for checkpoints and ONNX exports.
META_MUTATIONS: dict[str, Callable[[Meta], Any]] = {
    "meta-list": lambda meta: [meta],
    "meta-null": lambda meta: None,
    "no-model": _drop("model"),
    "no-class-names": _drop("class_names"),
    "no-band-mean": _drop("band_mean"),
    "no-band-std": _drop("band_std"),
    "no-tile-size": _drop("tile_size"),
    "tile-size-0": _set(tile_size=0),
    "tile-size-huge": _set(tile_size=10**9),
    "tile-size-float": _set(tile_size=32.5),
    "tile-size-string": _set(tile_size="32"),
    "tile-size-bool": _set(tile_size=True),
    "tile-size-nan": _set(tile_size=NAN),
    "model-string": _set(model="tiny"),
    "model-empty": _set(model={}),
    "model-unknown-key": _model(width=3),
    "bands-0": _model(in_channels=0),
    "bands-huge": _model(in_channels=10**6),
    "bands-not-the-network's": _widen(4),
    "classes-1": _model(num_classes=1),
    "classes-not-the-network's": lambda meta: {
        **meta,
        "model": {**meta["model"], "num_classes": 3},
        "class_names": ["a", "b", "c"],
    },
    "base-width-huge": _model(base_width=10**9),
    "depth-huge": _model(depth=40),
    "kernel-even": _model(spatial_kernel=4),
    "std-zero": _set(band_std=[0.0, 1.0, 1.0]),
    "std-negative": _set(band_std=[64.0, -1.0, 64.0]),
    "std-nan": _set(band_std=[64.0, 64.0, NAN]),
    "std-inf": _set(band_std=[INF, 64.0, 64.0]),
    "std-denormal": _set(band_std=[1e-45, 64.0, 64.0]),
    "std-strings": _set(band_std=["a", "b", "c"]),
    "std-short": _set(band_std=[64.0]),
    "mean-nan": _set(band_mean=[NAN, 128.0, 128.0]),
    "mean-beyond-float32": _set(band_mean=[1e39, 128.0, 128.0]),
    "mean-short": _set(band_mean=[128.0]),
    "low-short": _set(band_low=[0.0], band_high=[255.0] * 3),
    "low-above-high": _set(band_low=[200.0] * 3, band_high=[10.0] * 3),
    "high-inf": _set(band_low=[0.0] * 3, band_high=[255.0, INF, 255.0]),
    "class-names-short": _set(class_names=["background"]),
    "class-names-ints": _set(class_names=[0, 1]),
    "class-names-multiline": _set(class_names=["background", "build\ning"]),
    "class-values-300": _set(class_values=[0, 300]),
    "class-values-255": _set(class_values=[0, 255]),
    "class-values-repeated": _set(class_values=[1, 1]),
    "class-values-short": _set(class_values=[0]),
    "class-values-strings": _set(class_values=["a", "b"]),
    "role-number": _set(role=5),
    "training-string": _set(training="fast"),
    "diagnosis-odd": _set(training={"diagnosis": {"classes": ["road", 3]}}),
    "holdout-bad-crs": _set(holdout={"crs": "nonsense", "wkt": "POINT (0 0)"}),
    "holdout-bad-wkt": _set(holdout={"crs": WGS84_WKT, "wkt": "POLYGON ((0 0"}),
}


# The base model and scene


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, Any]:
    """The valid model (the tiniest network), its ONNX export and a scene with labels."""
    folder = tmp_path_factory.mktemp("fuzz")
    torch.manual_seed(SEED)
    config = model_config("tiny", base_width=2, depth=1, reduction=1, spatial_kernel=3)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["background", "building"],
        band_mean=[128.0] * 3,
        band_std=[64.0] * 3,
        band_low=[0.0] * 3,
        band_high=[255.0] * 3,
        tile_size=16,
        role="student",
    )
    ckpt = folder / "base.ckpt"
    save_model(ckpt, NRNRSSEG(config), meta)
    onnx_path = folder / "base.onnx"
    export_onnx(ckpt, onnx_path)
    scene, labels, *_ = scene_with_labels(folder, 24, 20)
    return {"ckpt": ckpt, "onnx": onnx_path, "scene": scene, "labels": labels}


# Mutants: each writes a broken model file at ``path`` from the base files


def _content(base: dict[str, Any]) -> dict[str, Any]:
    return torch.load(base["ckpt"], weights_only=True)


def mutate_ckpt_meta(mutation: Callable[[Meta], Any]) -> Callable[[dict, Path], None]:
    def write(base: dict[str, Any], path: Path) -> None:
        content = _content(base)
        torch.save({**content, "meta": mutation(content["meta"])}, path)

    return write


def mutate_onnx_props(**props: str | None) -> Callable[[dict, Path], None]:
    """Replace (or with None, remove) ``metadata_props`` of the ONNX export."""

    def write(base: dict[str, Any], path: Path) -> None:
        model = onnx.load(base["onnx"])
        values = {p.key: p.value for p in model.metadata_props}
        values.update(props)
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, {k: v for k, v in values.items() if v is not None})
        onnx.save(model, path)

    return write


def mutate_onnx_meta(mutation: Callable[[Meta], Any]) -> Callable[[dict, Path], None]:
    def write(base: dict[str, Any], path: Path) -> None:
        meta = json.loads(
            {p.key: p.value for p in onnx.load(base["onnx"]).metadata_props}["geonoise_meta"]
        )
        mutate_onnx_props(geonoise_meta=json.dumps(mutation(meta)))(base, path)

    return write


def mutate_onnx_graph(edit: Callable[[onnx.ModelProto], None]) -> Callable[[dict, Path], None]:
    def write(base: dict[str, Any], path: Path) -> None:
        model = onnx.load(base["onnx"])
        edit(model)
        onnx.save(model, path)

    return write


def _rename_input(model: onnx.ModelProto) -> None:
    old = model.graph.input[0].name
    model.graph.input[0].name = "x"
    for node in model.graph.node:
        node.input[:] = ["x" if name == old else name for name in node.input]


def _rename_output(model: onnx.ModelProto) -> None:
    old = model.graph.output[0].name
    model.graph.output[0].name = "y"
    for node in model.graph.node:
        node.output[:] = ["y" if name == old else name for name in node.output]


def _external_weights(model: onnx.ModelProto) -> None:
    """The largest initializer's data in a file outside the model's folder."""
    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "64")):
        tensor.external_data.add(key=key, value=value)


def mutate_bytes(mutation: Callable[[bytes], bytes]) -> Callable[[dict, Path], None]:
    """The base file's bytes damaged by ``mutation`` (:mod:`tests.robustness.mutations`)."""

    def write(base: dict[str, Any], path: Path) -> None:
        path.write_bytes(mutation(base[path.suffix[1:]].read_bytes()))

    return write


def _ckpt(content: Callable[[dict[str, Any]], Any]) -> Callable[[dict, Path], None]:
    """A checkpoint file whose whole content is ``content(base content)``."""
    return lambda base, path: torch.save(content(_content(base)), path)


class Evil:
    """Pickled as a call of ``print``: a plain unpickler would run it."""

    def __reduce__(self):
        return (print, ("ran code from a model file",))


def _weights(edit: Callable[[dict[str, torch.Tensor]], Any]) -> Callable[[dict, Path], None]:
    def content(c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "state_dict": edit(dict(c["state_dict"]))}

    return _ckpt(content)


def _first_weight(value: Callable[[torch.Tensor], Any]) -> Callable[[dict], dict]:
    def edit(weights: dict[str, torch.Tensor]) -> dict:
        name = next(iter(weights))
        return {**weights, name: value(weights[name])}

    return edit


CKPT_MUTANTS: dict[str, Callable[[dict, Path], None]] = {
    **{f"meta:{name}": mutate_ckpt_meta(m) for name, m in META_MUTATIONS.items()},
    "content-list": _ckpt(lambda c: [c]),
    "content-tensor": _ckpt(lambda c: torch.zeros(3)),
    "no-format": _ckpt(lambda c: {k: v for k, v in c.items() if k != "format"}),
    "no-meta": _ckpt(lambda c: {k: v for k, v in c.items() if k != "meta"}),
    "no-state-dict": _ckpt(lambda c: {k: v for k, v in c.items() if k != "state_dict"}),
    "state-dict-list": _weights(lambda w: list(w.values())),
    "weight-number": _weights(_first_weight(lambda t: 1)),
    "weight-shape": _weights(_first_weight(lambda t: torch.zeros(2, 2))),
    "weight-nan": _weights(_first_weight(lambda t: torch.full_like(t, math.nan))),
    "weight-missing": _weights(lambda w: dict(list(w.items())[1:])),
    "lightning-meta-string": _ckpt(lambda c: {"geonoise": "meta", "state_dict": {}}),
    "lightning-state-list": _ckpt(lambda c: {"geonoise": c["meta"], "state_dict": [1]}),
    "pickled-code": _ckpt(lambda c: {**c, "extra": Evil()}),
    "onnx-named-ckpt": lambda base, path: path.write_bytes(base["onnx"].read_bytes()),
}

ONNX_MUTANTS: dict[str, Callable[[dict, Path], None]] = {
    **{f"meta:{name}": mutate_onnx_meta(m) for name, m in META_MUTATIONS.items()},
    "no-meta": mutate_onnx_props(geonoise_meta=None),
    "no-multiple": mutate_onnx_props(multiple=None),
    "meta-not-json": mutate_onnx_props(geonoise_meta="{tile_size: 16"),
    "multiple-0": mutate_onnx_props(multiple="0"),
    "multiple-negative": mutate_onnx_props(multiple="-2"),
    "multiple-huge": mutate_onnx_props(multiple=str(10**9)),
    "multiple-text": mutate_onnx_props(multiple="two"),
    "multiple-not-the-network's": mutate_onnx_props(multiple="4"),
    "input-renamed": mutate_onnx_graph(_rename_input),
    "output-renamed": mutate_onnx_graph(_rename_output),
    "external-data-outside": mutate_onnx_graph(_external_weights),
    "ckpt-named-onnx": lambda base, path: path.write_bytes(base["ckpt"].read_bytes()),
}

BYTE_MUTANTS = {
    "empty": truncated(0.0),
    **{f"truncated-{i}": truncated(share) for i, share in enumerate((0.1, 0.5, 0.999))},
    **{f"random-{i}": random_bytes(SEED + i, size) for i, size in enumerate((64, 4096))},
    **{f"flipped-{i}": flipped(SEED + i, 1 + i, 1 << 30) for i in range(3)},
}
for _suffix, _mutants in (("ckpt", CKPT_MUTANTS), ("onnx", ONNX_MUTANTS)):
    _mutants.update({f"bytes:{name}": mutate_bytes(m) for name, m in BYTE_MUTANTS.items()})

#: Weights so large that the network overflows: the file loads, its probabilities are NaN.
#: ``export`` must catch it; what ``detect`` makes of NaN probabilities is its own matter.
CKPT_MUTANTS["weights-overflow"] = _weights(
    lambda w: {k: v.fill_(1e30) if v.dim() > 1 else v for k, v in w.items()}
)

#: One case per mutant file: the commands it goes through.
CASES = [
    *[
        ("ckpt", name, ("export",) if name == "weights-overflow" else ("detect", "export"))
        for name in CKPT_MUTANTS
    ],
    *[("onnx", name, ("detect",)) for name in ONNX_MUTANTS],
]


def run_command(command: str, model: Path, base: dict[str, Any], out: Path) -> Result:
    if command == "export":
        return run_cli("-q", "export", model, "-o", out / "model.onnx")
    scene, labels = base["scene"], base["labels"]
    args = ["-q", "detect", scene, "-l", labels, "-m", model, "-o", out / "noise.tif"]
    return run_cli(*args, "--no-tta", "--no-quicklook", "--device", "cpu")


def assert_refused(result: Result, model: Path, out: Path) -> None:
    """Exit 1 or 2 with one ``Error:`` line naming the model, nothing else, nothing written."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert model.name in lines[0], lines[0]
    assert list(out.iterdir()) == []


def test_fuzz_is_bounded():
    assert len(CASES) <= 150


@pytest.mark.parametrize(
    ("suffix", "name", "commands"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES]
)
def test_broken_model_file_is_refused_in_one_line(base, tmp_path, suffix, name, commands):
    model = tmp_path / f"mutant.{suffix}"
    (CKPT_MUTANTS if suffix == "ckpt" else ONNX_MUTANTS)[name](base, model)
    for command in commands:
        out = tmp_path / command
        out.mkdir()
        result = run_command(command, model, base, out)
        if name.startswith("bytes:flipped") and result.exit_code == 0:
            continue  # the flipped bytes were weights: still a model
        assert_refused(result, model, out)


def test_base_model_works(base, tmp_path):
    """The unmutated files pass, so the mutants fail for their mutation."""
    for suffix, command in (("ckpt", "detect"), ("ckpt", "export"), ("onnx", "detect")):
        out = tmp_path / f"{suffix}-{command}"
        out.mkdir()
        result = run_command(command, base[suffix], base, out)
        assert result.exit_code == 0, result.output
