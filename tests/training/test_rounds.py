"""Noisy Student rounds: the label rewrite, the round files and their lineage, and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from geonoise.data.datasets import TileDataset
from geonoise.models.checkpoint import read_checkpoint
from geonoise.training.rounds import (
    rewrite_labels,
    round_paths,
    round_tiles_path,
    write_round_tiles,
)
from tests.conftest import run_cli as run

FAST = ["--preset", "tiny", "--batch-size", "2", "--no-augment", "--steps", "3", "--seed", "5"]


def probabilities(p_one: list[list[float]]) -> np.ndarray:
    """Two-class probabilities ``(2, H, W)`` from p(class 1)."""
    one = np.asarray(p_one, np.float32)
    return np.stack([1 - one, one])


def test_rewrite_ignores_only_confidently_wrong_labels():
    labels = np.array([[0, 0, 1], [1, 255, 1]], np.uint8)
    probs = probabilities([[0.95, 0.85, 0.05], [0.5, 0.99, 0.9]])
    new = rewrite_labels(labels, probs, [0, 1], threshold=0.9, mode="ignore")
    # noise scores 1 − p(label): 0.95, 0.85, 0.95 / 0.5, (ignored), 0.1
    np.testing.assert_array_equal(new, [[255, 0, 255], [1, 255, 1]])
    assert new.dtype == np.uint8


def test_rewrite_relabels_with_the_predicted_class_value():
    """Labels are class *values* (here 1..3); the prediction is written as a value too."""
    labels = np.array([[1, 2, 3, 7]], np.uint8)  # 7: a value the model does not know
    probs = np.zeros((3, 1, 4), np.float32)
    probs[:, 0, 0] = [0.05, 0.9, 0.05]  # labelled 1, predicted 2 (value 2): wrong
    probs[:, 0, 1] = [0.1, 0.8, 0.1]  # labelled 2 and right
    probs[:, 0, 2] = [0.1, 0.1, 0.8]  # labelled 3 and right
    probs[:, 0, 3] = [1.0, 0.0, 0.0]
    new = rewrite_labels(labels, probs, [1, 2, 3], threshold=0.8, mode="relabel")
    np.testing.assert_array_equal(new, [[2, 2, 3, 7]])


def test_rewrite_at_threshold_one_changes_only_certain_errors():
    labels = np.array([[0, 1]], np.uint8)
    probs = probabilities([[1.0, 0.01]])
    np.testing.assert_array_equal(rewrite_labels(labels, probs, [0, 1], 1.0, "relabel"), [[1, 1]])


def test_round_files_are_named_after_the_output():
    models = round_paths("out/student.ckpt", 3)
    assert [p.name for p in models] == [f"student.round{k}.ckpt" for k in (1, 2, 3)]
    assert round_tiles_path(models[1]) == Path("out/student.round2.tiles")


class SureOfBuildings:
    """A predictor that sees a building everywhere, with p = 0.99."""

    meta = SimpleNamespace(values=[0, 1])
    multiple = 1

    def predict(self, image: np.ndarray) -> np.ndarray:
        probs = np.empty((image.shape[0], 2, *image.shape[2:]), np.float32)
        probs[:, 0], probs[:, 1] = 0.01, 0.99
        return probs


def test_round_tiles_read_the_images_where_they_are_and_hold_the_new_labels(tiles, tmp_path):
    out = tmp_path / "s.round2.tiles"
    changed = write_round_tiles(TileDataset(tiles), SureOfBuildings(), out, 0.9, "relabel")
    original, rewritten = TileDataset(tiles), TileDataset(out)
    assert not (out / "images").exists()
    masks = [original[i]["mask"] for i in range(len(original))]
    background = sum(int((m == 0).sum()) for m in masks) / sum(int((m != 255).sum()) for m in masks)
    assert changed == pytest.approx(background)
    for i, mask in enumerate(masks):
        assert torch.equal(rewritten[i]["image"], original[i]["image"])
        assert torch.equal(rewritten[i]["mask"], torch.where(mask == 255, mask, 1))
    assert (rewritten.index["frac_1"] == 1).all() and (rewritten.index["frac_0"] == 0).all()
    assert rewritten.placement(0) == original.placement(0)


@pytest.fixture(scope="module")
def teacher(tiles, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("teacher") / "teacher.ckpt"
    result = run("-q", "train-teacher", tiles, "-o", path, *FAST)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def rounds(tiles, teacher, tmp_path_factory) -> tuple[Path, dict]:
    """Two rounds relabelling every label the first round doubts at all."""
    out = tmp_path_factory.mktemp("rounds") / "student.ckpt"
    result = run(
        "train-student", tiles, "--teacher", teacher, "-o", out, *FAST,
        "--rounds", 2, "--round-mode", "relabel", "--round-threshold", 0.01, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_every_round_is_kept_and_names_its_round_and_parent(rounds, teacher):
    out, _ = rounds
    first, second = round_paths(out, 2)
    meta1, meta2 = read_checkpoint(first)[0], read_checkpoint(second)[0]
    assert (meta1.training["round"], meta1.training["parent"]) == (1, str(teacher))
    assert (meta2.training["round"], meta2.training["parent"]) == (2, str(first))
    assert meta2.training["round_mode"] == "relabel"
    assert out.read_bytes() == second.read_bytes()  # the model asked for is the last round


def test_round_two_is_taught_by_round_one(rounds):
    out, _ = rounds
    first = round_paths(out, 2)[0]
    hparams = yaml.safe_load((out.parent / "student.round2_run" / "hparams.yaml").read_text())
    assert hparams["teacher"] == str(first)


def test_round_two_trains_on_the_labels_round_one_rewrote(rounds, tiles):
    out, report = rounds
    derived = round_tiles_path(round_paths(out, 2)[1])
    assert not (derived / "images").exists()  # the images are read where they are
    original, rewritten = TileDataset(tiles), TileDataset(derived)
    assert rewritten.tile_ids == original.tile_ids
    for i in range(len(original)):
        assert torch.equal(rewritten[i]["image"], original[i]["image"])
    changed = [not torch.equal(rewritten[i]["mask"], original[i]["mask"]) for i in range(4)]
    assert any(changed)
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert report["rounds"][1]["tiles"] == str(derived)
    assert report["rounds"][1]["labels_changed"] > 0
    assert report["model_file"] == str(out)


def test_one_round_is_the_plain_student(tiles, teacher, tmp_path):
    plain, one = tmp_path / "plain.ckpt", tmp_path / "one.ckpt"
    for out, extra in ((plain, []), (one, ["--rounds", 1])):
        result = run("-q", "train-student", tiles, "--teacher", teacher, "-o", out, *FAST, *extra)
        assert result.exit_code == 0, result.output
    weights = read_checkpoint(plain)[1], read_checkpoint(one)[1]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert "round" not in read_checkpoint(one)[0].training
    assert sorted(p.name for p in tmp_path.iterdir() if "round" in p.name) == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--folds", "2"], "--folds"),
        (["--resume"], "--resume"),
        (["--labels-dir", "."], "--labels-dir"),
        (["--strategy", "ddp"], "--strategy ddp"),
    ],
)
def test_rounds_refuse_what_they_do_not_combine_with(tiles, teacher, tmp_path, extra, named):
    out = tmp_path / "s.ckpt"
    result = run("train-student", tiles, "--teacher", teacher, "-o", out, "--rounds", 2, *extra)
    assert result.exit_code == 2, result.output
    assert "--rounds" in result.output and named in result.output
    assert list(tmp_path.iterdir()) == []


def test_rounds_refuse_an_existing_output_before_any_work(tiles, teacher, tmp_path):
    (tmp_path / "s.round2.tiles").mkdir()
    out = tmp_path / "s.ckpt"
    result = run("train-student", tiles, "--teacher", teacher, "-o", out, "--rounds", 2)
    assert result.exit_code == 1, result.output
    assert "s.round2.tiles exists; pass --overwrite" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["s.round2.tiles"]
