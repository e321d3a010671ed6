"""Teacher and student training: the tasks, checkpoints, resume, config and DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import torch
import yaml

from geonoise.models.checkpoint import load_model, read_checkpoint
from tests.conftest import run_cli as run
from tests.conftest import write_scene

#: Every test here trains networks (a teacher for the module, and more).
pytestmark = pytest.mark.slow

FAST = ["--preset", "tiny", "--batch-size", "4", "--no-augment", "--lr", "0.01"]


@pytest.fixture(scope="module")
def tiles(tmp_path_factory) -> dict[str, Path]:
    """Tile directories of a small clean scene and of a noisy scene in another style."""
    root = tmp_path_factory.mktemp("data")
    out = {}
    for name, style, seed, rate in (("clean", "temperate", 1, 0.0), ("noisy", "arid", 2, 0.3)):
        scene = root / name
        assert (
            run(
                "synth",
                "-o",
                scene,
                "--size",
                192,
                192,
                "--style",
                style,
                "--seed",
                seed,
                "--noise-rate",
                rate,
            ).exit_code
            == 0
        )
        label = "labels_clean.tif" if rate == 0 else "labels_noisy.tif"
        out[name] = root / f"tiles_{name}"
        result = run(
            "-q",
            "tile",
            scene / "scene.tif",
            "-l",
            scene / label,
            "-o",
            out[name],
            "--size",
            64,
            "--overlap",
            16,
        )
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def teacher(tiles, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("teacher") / "teacher.ckpt"
    result = run("-q", "train-teacher", tiles["clean"], "-o", path, "--epochs", 2, *FAST)
    assert result.exit_code == 0, result.output
    return path


def test_teacher_writes_model_curves_and_run(teacher):
    meta, weights = read_checkpoint(teacher)
    assert meta.role == "teacher" and meta.bands == 3 and meta.num_classes == 2
    assert meta.class_names == ["background", "building"] and meta.tile_size == 64
    assert len(meta.band_mean) == 3 and all(s > 0 for s in meta.band_std)
    assert meta.training["preset"] == "tiny"
    assert teacher.with_name("teacher.curves.png").stat().st_size > 1000
    run_dir = teacher.with_name("teacher_run")
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert (run_dir / "metrics.csv").exists()
    assert not any(k.startswith("teacher.") for k in weights)


def test_checkpoint_loads_in_a_fresh_process_with_identical_logits(teacher, tmp_path):
    model, _ = load_model(teacher)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        here = model(x)[0]
    torch.save(x, tmp_path / "x.pt")
    code = (
        "import sys, torch; from geonoise.models.checkpoint import load_model; "
        "m, _ = load_model(sys.argv[1]); x = torch.load(sys.argv[2]); "
        "torch.save(m(x)[0].detach(), sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", code, teacher, tmp_path / "x.pt", tmp_path / "y.pt"], check=True
    )
    assert torch.equal(torch.load(tmp_path / "y.pt"), here)


def test_model_file_refuses_pickled_code(tmp_path, capfd):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.ckpt"
    torch.save({"format": "geonoise-model/1", "meta": Evil(), "state_dict": {}}, bad)
    result = run("train-student", tmp_path, "--teacher", bad, "-o", tmp_path / "s.ckpt")
    assert result.exit_code == 1 and "cannot load" in result.stderr
    assert "pwned" not in result.output + capfd.readouterr().out


def test_student_keeps_the_teacher_frozen_and_in_eval_mode(tiles, teacher):
    from geonoise.data.datasets import open_tiles
    from geonoise.training.config import TrainConfig
    from geonoise.training.meta import build_meta
    from geonoise.training.tasks import StudentTask, frozen

    data = open_tiles(str(tiles["noisy"]))
    meta = build_meta(data, TrainConfig(), "student")
    task = StudentTask(meta, teacher=str(teacher), augment=False)
    task.train()
    assert not task.teacher.training and task.model.training and frozen(task.teacher)
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    batch = {"image": torch.rand(2, 3, 64, 64), "mask": torch.randint(0, 2, (2, 64, 64))}
    losses = task.loss(batch)
    losses["loss"].backward()
    assert all(p.grad is None for p in task.teacher.parameters())
    assert any(p.grad is not None for p in task.student_loss.parameters())  # the regressor
    assert set(losses) == {"loss", "sce", "distill"}
    after = task.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics too


def test_student_trains_and_says_so(tiles, teacher, tmp_path):
    out = tmp_path / "student.ckpt"
    result = run(
        "train-student",
        tiles["noisy"],
        "--teacher",
        teacher,
        "-o",
        out,
        "--epochs",
        1,
        "--json",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model_file"] == str(out)
    assert "val_iou_building" in summary["metrics"]
    meta, _ = read_checkpoint(out)
    assert meta.role == "student" and meta.training["distill_weight"] == 0.1


def test_mismatched_teacher_is_refused(tiles, teacher, tmp_path):
    scene = tmp_path / "six"
    assert run("synth", "-o", scene, "--size", 128, 128, "--classes", "landcover").exit_code == 0
    assert (
        run(
            "-q",
            "tile",
            scene / "scene.tif",
            "-l",
            scene / "labels_noisy.tif",
            "-o",
            tmp_path / "t",
            "--size",
            64,
        ).exit_code
        == 0
    )
    result = run(
        "train-student", tmp_path / "t", "--teacher", teacher, "-o", tmp_path / "s.ckpt", *FAST
    )
    assert result.exit_code == 2
    assert "teacher" in result.stderr and "classes" in result.stderr
    assert not (tmp_path / "s.ckpt").exists()


def test_resume_continues_from_the_saved_epoch(tiles, tmp_path):
    out = tmp_path / "t.ckpt"
    assert (
        run("-q", "train-teacher", tiles["clean"], "-o", out, "--epochs", 1, *FAST).exit_code == 0
    )
    refused = run("-q", "train-teacher", tiles["clean"], "-o", out, "--epochs", 2, *FAST)
    assert refused.exit_code == 1 and "--overwrite" in refused.stderr
    resumed = run(
        "-q", "train-teacher", tiles["clean"], "-o", out, "--epochs", 2, "--resume", *FAST
    )
    assert resumed.exit_code == 0, resumed.output
    last = torch.load(out.with_name("t_run") / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # epochs 0 and 1, the second after the resume
    import pandas as pd

    epochs = pd.read_csv(out.with_name("t_run") / "metrics.csv")["epoch"].dropna().unique()
    assert sorted(epochs) == [0, 1]


def test_config_file_and_flag_precedence(tiles, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"epochs": 1, "preset": "tiny", "batch_size": 4, "augment": False, "sce_alpha": 0.25}
        )
    )
    out = tmp_path / "t.ckpt"
    result = run(
        "-q", "train-teacher", tiles["clean"], "-o", out, "--config", config, "--sce-alpha", 0.75
    )
    assert result.exit_code == 0, result.output
    training = read_checkpoint(out)[0].training
    assert training["epochs"] == 1 and training["sce_alpha"] == 0.75


def test_unknown_config_key_is_named(tiles, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("epochs: 1\nlearning_rate: 0.1\n")
    result = run("train-teacher", tiles["clean"], "-o", tmp_path / "t.ckpt", "--config", config)
    assert result.exit_code == 2 and "unknown key 'learning_rate'" in result.stderr


def test_tile_dir_without_index_is_a_clear_error(tmp_path):
    result = run("train-teacher", tmp_path, "-o", tmp_path / "t.ckpt")
    assert result.exit_code == 2 and "no tiles.gpkg" in result.stderr


@pytest.mark.slow
def test_ddp_with_two_cpu_processes_completes_an_epoch(tiles, tmp_path):
    out = tmp_path / "ddp.ckpt"
    command = [
        str(Path(sys.executable).with_name("geonoise")),
        "-q",
        "train-teacher",
        str(tiles["clean"]),
        "-o",
        str(out),
        "--epochs",
        "1",
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--strategy",
        "ddp",
        *FAST,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_checkpoint(out)[0].role == "teacher"
    assert out.with_name("ddp.curves.png").exists()


def test_plain_png_folders_train_with_binary_masks(tmp_path):
    """Challenge-style data: RGB PNG patches and 0/255 PNG masks, matched by file name."""
    import warnings

    import numpy as np
    import rasterio

    images, masks = tmp_path / "training_patches", tmp_path / "training_noisy_labels"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        for i in range(6):
            mask = np.zeros((64, 64), "uint8")
            mask[8 + i : 40, 10 : 30 + i] = 255
            image = rng.integers(0, 60, (3, 64, 64)).astype("uint8")
            image[:, mask > 0] += 150
            for path, data in (
                (images / f"tile_{i}.png", image),
                (masks / f"tile_{i}.png", mask[None]),
            ):
                with rasterio.open(
                    path, "w", driver="PNG", width=64, height=64, count=data.shape[0], dtype="uint8"
                ) as dst:
                    dst.write(data)
    out = tmp_path / "t.ckpt"
    result = run(
        "-q",
        "train-teacher",
        images,
        "--labels-dir",
        masks,
        "--binary-255",
        "-o",
        out,
        "--epochs",
        1,
        *FAST,
    )
    assert result.exit_code == 0, result.output
    meta = read_checkpoint(out)[0]
    assert meta.num_classes == 2 and meta.tile_size == 64


def test_cross_fitted_students_score_every_pixel_out_of_sample(tiles, teacher, tmp_path):
    out = tmp_path / "student.ckpt"
    args = ["--teacher", teacher, "-o", out, "--folds", 2, "--block-size", 32, "--epochs", 1]
    result = run("-q", "train-student", tiles["noisy"], *args, *FAST)
    assert result.exit_code == 0, result.output
    listing = tmp_path / "student.folds.txt"
    assert result.stdout.strip() == str(listing)
    folds = listing.read_text().split()
    assert folds == [str(tmp_path / "student.fold1.ckpt"), str(tmp_path / "student.fold2.ckpt")]
    assert not out.exists()
    index = gpd.read_file(tiles["noisy"] / "tiles.gpkg", layer="tiles")
    regions = []
    for path in folds:
        meta, _ = read_checkpoint(path)
        assert meta.role == "student" and meta.training["folds"] == 2
        regions.append(shapely.from_wkt(meta.holdout["wkt"]))
    # Together the held-out regions cover every tile (they overlap where tiles do).
    assert regions[0].union(regions[1]).equals(shapely.union_all(index.geometry.to_numpy()))
    scene = tiles["noisy"].parent / "noisy"
    detect = run(
        "-q", "detect", scene / "scene.tif", "-l", scene / "labels_noisy.tif",
        "-m", f"@{listing}", "-o", tmp_path / "noise.tif", "--no-quicklook", "--json",
    )  # fmt: skip
    assert detect.exit_code == 0, detect.output
    summary = json.loads(detect.stdout)["scenes"][0]
    assert summary["models"] == 2 and summary["in_sample_window_pixels"] == 0
    again = run("-q", "train-student", tiles["noisy"], *args, *FAST)
    assert again.exit_code == 1 and "exists" in again.output
    resumed = run("-q", "train-student", tiles["noisy"], *args, "--resume", *FAST)
    assert resumed.exit_code == 0, resumed.output  # both folds done: nothing to train


def test_folds_need_a_tile_directory(tmp_path, teacher):
    images = tmp_path / "images"
    images.mkdir()
    result = run(
        "train-student", images, "--labels-dir", images, "--teacher", teacher,
        "-o", tmp_path / "s.ckpt", "--folds", 2,
    )  # fmt: skip
    assert result.exit_code == 2 and "--folds needs a tile directory" in result.output


def test_a_model_that_learned_nothing_is_said_so_and_detect_repeats_it(tmp_path):
    """Buildings on 2 % of random pixels, unrelated to the image: nothing to learn."""
    rng = np.random.default_rng(5)
    label = (rng.random((1, 96, 96)) < 0.02).astype("uint8")
    scene = write_scene(tmp_path / "scene.tif", 96, 96, seed=5)
    labels = write_scene(tmp_path / "labels.tif", 96, 96, data=label)
    tiles = tmp_path / "tiles"
    assert run("-q", "tile", scene, "-l", labels, "-o", tiles, "--size", 32).exit_code == 0
    out = tmp_path / "t.ckpt"
    result = run("train-teacher", tiles, "-o", out, "--steps", 6, "--batch-size", 4, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["diagnosis"]["learned"] is False and summary["steps_run"] == 6
    building = summary["diagnosis"]["classes"][1]
    assert building["name"] == "building" and building["learned"] is False
    assert (
        "learned nothing of building" in result.stderr and "only 6 optimizer steps" in result.stderr
    )
    assert "in spatially blocked validation" in summary["split"]
    detected = run("detect", scene, "-l", labels, "-m", out, "-o", tmp_path / "n.tif")
    assert detected.exit_code == 0 and "learned nothing of building in training" in detected.stderr
