"""A seeded, bounded fuzz of every input of every command.

Each valid input (scene, label raster and layer, noise map, class companion,
truth, model checkpoint and ONNX file, config, list file, tile index) is
mutated in fixed ways (:mod:`tests.robustness.mutations`: emptied, truncated,
bytes of its header or body flipped, replaced by random bytes, absurd sizes in
a raster's header) and given to every command that reads it. A command may
still succeed where a mutation left the file readable; when it fails it must
say so in one ``Error:`` line with exit 1 or 2, no traceback, no "unexpected"
error, and leave nothing new where its output was to go.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_model_file, run_cli, write_scene
from tests.robustness.mutations import (
    assert_one_clean_error,
    flipped,
    not_utf8,
    random_bytes,
    tiff_size,
    truncated,
)

pytestmark = pytest.mark.slow

SEED = 11


#: (name, mutation) applied to every input: emptied, truncated, header or body bytes
#: flipped, replaced by random bytes, not UTF-8.
MUTATIONS = [
    ("empty", truncated(0.0)),
    ("truncated-0.05", truncated(0.05)),
    ("truncated-0.5", truncated(0.5)),
    ("truncated-0.95", truncated(0.95)),
    ("header-flipped", flipped(SEED, 8, 512)),
    ("body-flipped", flipped(SEED + 1, 32, 1 << 30)),
    ("random", random_bytes(SEED, 4096)),
    ("not-utf8", not_utf8),
]
#: Absurd sizes in a raster input's header: memory must not follow what a header claims.
HEADER_SIZES = [("size-1e6x1e6", tiff_size(10**6, 10**6)), ("size-2e31x1", tiff_size(2**31 - 1, 1))]
RASTERS = {"scene", "labels", "noise", "classes", "truth"}


@dataclass(frozen=True)
class Case:
    """A command line whose input ``target`` (a key of the inputs) is replaced by a mutant."""

    name: str
    target: str
    args: tuple[str, ...]


#: ``{name}`` in args is replaced by the path of that input; ``{out}`` by the output path.
CASES = [
    Case("tile-scene", "scene", ("tile", "{scene}", "-l", "{labels}", "-o", "{out}/tiles")),
    Case("tile-labels", "labels", ("tile", "{scene}", "-l", "{labels}", "-o", "{out}/tiles")),
    Case("tile-layer", "layer", ("tile", "{scene}", "-l", "{layer}", "-o", "{out}/tiles")),
    Case(
        "detect-scene",
        "scene",
        ("detect", "{scene}", "-l", "{labels}", "-m", "{model}", "-o", "{out}/n.tif"),
    ),
    Case(
        "detect-labels",
        "labels",
        ("detect", "{scene}", "-l", "{labels}", "-m", "{model}", "-o", "{out}/n.tif"),
    ),
    Case(
        "detect-layer",
        "layer",
        ("detect", "{scene}", "-l", "{layer}", "-m", "{model}", "-o", "{out}/n.tif"),
    ),
    Case(
        "detect-checkpoint",
        "model",
        ("detect", "{scene}", "-l", "{labels}", "-m", "{model}", "-o", "{out}/n.tif"),
    ),
    Case(
        "detect-onnx",
        "onnx",
        ("detect", "{scene}", "-l", "{labels}", "-m", "{onnx}", "-o", "{out}/n.tif"),
    ),
    Case(
        "detect-list",
        "list",
        ("detect", "@{list}", "-l", "{labels}", "-m", "{model}", "-o", "{out}/maps"),
    ),
    Case(
        "detect-tiles",
        "index",
        ("detect", "--tiles", "{tiles}", "-m", "{model}", "-o", "{out}/ranking"),
    ),
    Case("vectorize-noise", "noise", ("vectorize", "{noise}", "-o", "{out}/p.gpkg")),
    Case(
        "vectorize-classes",
        "classes",
        ("vectorize", "{noise}", "--classes", "{classes}", "-o", "{out}/p.gpkg"),
    ),
    Case(
        "evaluate-noise",
        "noise",
        ("evaluate", "{noise}", "--truth", "{truth}", "--plot", "{out}/pr.png"),
    ),
    Case(
        "evaluate-truth",
        "truth",
        ("evaluate", "{noise}", "--truth", "{truth}", "--plot", "{out}/pr.png"),
    ),
    Case("export-checkpoint", "model", ("export", "{model}", "-o", "{out}/m.onnx")),
    Case(
        "train-config",
        "config",
        ("train-teacher", "{tiles}", "-o", "{out}/t.ckpt", "--config", "{config}"),
    ),
    Case(
        "train-index",
        "index",
        ("train-teacher", "{tiles}", "-o", "{out}/t.ckpt", "--steps", "2"),
    ),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """One valid file of every kind the commands read, all on one 64² grid."""
    root = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(SEED)
    labels = rng.integers(0, 3, (1, 64, 64)).astype("uint8")
    score = rng.random((1, 64, 64), dtype=np.float32)
    files = {
        "scene": write_scene(root / "scene.tif", 64, 64, count=4),
        "labels": write_scene(root / "labels.tif", 64, 64, data=labels),
        "noise": write_scene(root / "noise.tif", 64, 64, data=score, nodata=-1.0),
        "truth": write_scene(root / "truth.tif", 64, 64, data=(score > 0.7).astype("uint8")),
        "model": make_model_file(root / "model.ckpt"),
    }
    files["classes"] = write_scene(
        root / "noise.classes.tif", 64, 64, data=np.concatenate([labels, labels])
    )
    assert run_cli("-q", "export", files["model"], "-o", root / "model.onnx").exit_code == 0
    files["onnx"] = root / "model.onnx"
    layer = root / "layer.gpkg"
    assert run_cli("-q", "vectorize", files["noise"], "-o", layer).exit_code == 0
    files["layer"] = layer
    files["list"] = root / "scenes.txt"
    files["list"].write_text(f"{files['scene']}\n")
    files["config"] = root / "config.yaml"
    files["config"].write_text("batch_size: 2\nsteps: 2\npreset: tiny\n")
    files["tiles"] = root / "tiles"
    result = run_cli(
        "-q", "tile", files["scene"], "-l", files["labels"], "-o", files["tiles"], "--size", 32
    )
    assert result.exit_code == 0, result.output
    files["index"] = files["tiles"] / "tiles.gpkg"
    return files


def _mutant_inputs(inputs: dict[str, Path], target: str, mutant: Path, root: Path):
    """The inputs with ``target`` replaced by ``mutant`` (the tile directory copied for it)."""
    paths = dict(inputs)
    if target == "index":
        tiles = root / "tiles"
        shutil.copytree(inputs["tiles"], tiles)
        shutil.copyfile(mutant, tiles / "tiles.gpkg")
        paths["tiles"] = tiles
    elif target == "layer":  # the mutant keeps its extension, so the right driver is tried
        paths[target] = mutant.with_suffix(".gpkg")
        mutant.rename(paths[target])
    else:
        paths[target] = mutant
    return paths


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_mutant_input_fails_cleanly_or_works(inputs, tmp_path, case):
    original = inputs[case.target].read_bytes()
    problems = []
    mutations = MUTATIONS + (HEADER_SIZES if case.target in RASTERS else [])
    for name, mutate in mutations:
        root = tmp_path / name
        root.mkdir()
        suffix = inputs[case.target].suffix
        mutant = root / f"mutant{suffix}"
        mutant.write_bytes(mutate(original))
        paths = _mutant_inputs(inputs, case.target, mutant, root)
        out = root / "out"
        out.mkdir()
        args = [a.format(out=out, **paths) for a in case.args]
        result = run_cli(*args)
        problem = _problem(result, out)
        print("FUZZ", case.name, name, result.exit_code)  # for a tally with -s
        if problem:
            problems.append(f"{name}: {problem}")
    assert not problems, "\n".join(problems)


def _problem(result, out: Path) -> str | None:
    """What is wrong with how a command ended on a mutant input, or None."""
    if result.exit_code == 0:
        return None
    try:
        assert_one_clean_error(result)
    except AssertionError as exc:
        return f"exit {result.exit_code}, not one clean Error line: {exc}"[:400]
    left = sorted(p.name for p in out.iterdir())
    if left:
        return f"left {left} after {result.stderr.strip().splitlines()[-1]!r}"
    return None
