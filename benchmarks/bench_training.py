"""Training benchmark: model quality on the sample data and training throughput on this CPU.

Quality (``--quality``), through the real CLI so the numbers are what users get:

* the teacher: ``geonoise train-teacher`` on the tiles of the clean source scene; its best
  validation IoU for buildings (from ``--json``) should reach 0.8;
* per seed, the student (``geonoise train-student`` on the tiles of the noisy target scene,
  guided by that teacher) and the baseline (the same network, same settings and seed, trained
  with ``geonoise train-teacher`` on the same noisy tiles, no teacher);
* each model predicts the whole 1024² target scene; its building IoU is scored against the
  scene's *clean* truth over the whole scene and separately over the pixels of the training
  and the validation tiles of that seed's split (memorised noise shows on training pixels),
  against the noisy labels (how much of the noise it copied), and on the noisy pixels
  (``noise_truth == 1``): recall (share of noisy pixels where the prediction agrees with the
  clean truth, i.e. disagrees with the given label) and precision (share of the pixels where
  the prediction disagrees with the given label that are truly noisy).

Throughput (``--throughput``), for the ``tiny`` and the ``seed`` presets, 256² RGB tiles of the
sample, batch size 8, torch threads = 2, measured in the same process and interleaved:

* (a) bare: forward + SCE loss + backward + AdamW step of the network on a fixed in-memory
  batch;
* (b) full: ``trainer.fit`` of the real :class:`~geonoise.training.tasks.TeacherTask` with the
  real ``DataLoader`` over a :class:`~geonoise.data.datasets.TileDataset` (cache on, and cache
  off), on-device
  normalisation and kornia augmentation, forward, loss, backward, step, Lightning's logging of
  ``train_loss``; no validation, checkpoints, logger or progress bar. Its step time is the wall
  time between the end of the warm-up epoch and the end of the last batch divided by the steps
  in between (timestamps from a callback; trainer start-up is not counted, epoch boundaries
  are);
* the pieces alone: one batch from the loader (cache on / off), normalisation + augmentation
  of one batch;
* the ratio (b) / (a); the target is <= 1.2.

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/bench_training.py                 # both parts
    .venv/bin/python benchmarks/bench_training.py --throughput    # one part
    .venv/bin/python benchmarks/bench_training.py --quality --seeds 0 1 2 --epochs 30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_name  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work" / "training"
REPORT = HERE / "training.md"
GEONOISE = ROOT / ".venv" / "bin" / "geonoise"
SAMPLE = ROOT / "sample_data"

TEACHER_TARGET = 0.8
RATIO_TARGET = 1.2
BATCH = 8
THREADS = 2
BUILDING = 1
IGNORE = 255

#: The Makefile's `make demo` tiling, repeated here so the benchmark needs nothing else.
TILE_COMMANDS = {
    "tiles_source": [
        "tile",
        "sample_data/source/scene.tif",
        "--labels",
        "sample_data/source/labels_clean.tif",
        "--size",
        "256",
        "--overlap",
        "32",
    ],
    "tiles_target": [
        "tile",
        "sample_data/target/scene.tif",
        "--labels",
        "sample_data/target/labels_noisy.gpkg",
        "--size",
        "256",
        "--overlap",
        "32",
    ],
}


def rel(path: Path | str) -> str:
    """A path relative to the repository root, for the report's commands."""
    path = Path(path)
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


def geonoise_cmd(*args: str) -> list[str]:
    return [str(GEONOISE) if GEONOISE.exists() else "geonoise", *args]


def shown(cmd: list[str]) -> str:
    """The command as a user types it, from the repository root."""
    words = ["geonoise" if Path(w).name == "geonoise" and i == 0 else w for i, w in enumerate(cmd)]
    return shlex.join(words)


def fmt(values: list[float], digits: int = 3) -> str:
    """``mean ± std`` (sample std) of ``values``; a single value as it is."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


# --------------------------------------------------------------------------- machine


def machine(load_start: float) -> list[str]:
    import kornia
    import lightning
    import torch

    cpu = cpu_name()
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    import geonoise

    return [
        f"- CPU: {cpu}; {os.cpu_count()} logical cores; RAM {ram}; no GPU used",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), lightning {lightning.__version__}, "
        f"kornia {kornia.__version__}, geonoise {geonoise.__version__}",
        f"- Load average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores (above ~{os.cpu_count()} other processes were competing for "
        "the CPU and every time here is inflated)",
    ]


# --------------------------------------------------------------------------- quality


@dataclass
class Run:
    """One CLI training run and its scores on the target scene."""

    name: str
    seed: int
    cmd: list[str]
    seconds: float
    result: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)


def ensure_tiles(work: Path) -> dict[str, Path]:
    """Tile directories of the sample scenes (made once, as `make demo` makes them)."""
    out = {}
    for name, args in TILE_COMMANDS.items():
        path = work / name
        if not (path / "tiles.gpkg").exists():
            cmd = geonoise_cmd("-q", *args, "-o", str(path), "--overwrite")
            print(f"$ {shown(cmd)}", file=sys.stderr)
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        out[name] = path
    return out


def train(name: str, seed: int, cmd: list[str], log: Path) -> Run:
    """Run a training command; its ``--json`` result from stdout, its stderr into ``log``."""
    print(f"$ {shown(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{name} failed (exit {done.returncode}); see {log}")
    result = json.loads(done.stdout)
    print(
        f"  {name} seed {seed}: {seconds:.0f} s, {result['epochs_run']} epochs, "
        f"val IoU building {result['metrics'].get('val_iou_building', float('nan')):.3f}",
        file=sys.stderr,
        flush=True,
    )
    return Run(name, seed, cmd, seconds, result)


@dataclass
class Scene:
    """The target scene, its label rasters and the pixel masks of each seed's split."""

    image: np.ndarray
    clean: np.ndarray
    noisy: np.ndarray
    noise: np.ndarray
    index: Any

    @classmethod
    def load(cls, tiles: Path) -> Scene:
        import rasterio

        from geonoise.data.datasets import TileDataset

        def read(name: str) -> np.ndarray:
            with rasterio.open(SAMPLE / "target" / name) as src:
                return src.read()

        return cls(
            image=read("scene.tif").astype(np.float32),
            clean=read("labels_clean.tif")[0],
            noisy=read("labels_noisy.tif")[0],
            noise=read("noise_truth.tif")[0],
            index=TileDataset(tiles).index,
        )

    def split_masks(self, seed: int, val_fraction: float = 0.2) -> dict[str, np.ndarray]:
        """Pixels of the training and of the validation tiles of ``seed``'s split."""
        from geonoise.data.splits import blocked_split

        split = blocked_split(self.index, val_fraction, None, seed)
        masks = {}
        for key, ids in (("train", split.train), ("val", split.val)):
            mask = np.zeros(self.clean.shape, dtype=bool)
            rows = self.index[self.index["tile_id"].isin(ids)]
            for col, row, width, height in rows[["col_off", "row_off", "width", "height"]].values:
                mask[int(row) : int(row) + int(height), int(col) : int(col) + int(width)] = True
            masks[key] = mask
        return masks


def predict_scene(model_file: str, image: np.ndarray) -> np.ndarray:
    """Class of every pixel of the scene: normalised with the model's stats, one forward."""
    import torch

    from geonoise.models.checkpoint import load_model
    from geonoise.models.nrn_rsseg import predict_logits

    model, meta = load_model(model_file)
    mean = np.asarray(meta.band_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(meta.band_std, dtype=np.float32)[:, None, None]
    x = torch.from_numpy((image - mean) / std)[None]
    with torch.no_grad():
        return predict_logits(model, x).argmax(1)[0].numpy()


def iou(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> float:
    p = (pred == BUILDING) & mask
    r = (ref == BUILDING) & mask
    union = np.count_nonzero(p | r)
    return np.count_nonzero(p & r) / union if union else float("nan")


def score(model_file: str, scene: Scene, seed: int) -> dict[str, float]:
    pred = predict_scene(model_file, scene.image)
    valid = scene.clean != IGNORE
    masks = scene.split_masks(seed)
    noisy_px = (scene.noise == 1) & valid & (scene.noisy != IGNORE)
    flagged = (pred != scene.noisy) & valid & (scene.noisy != IGNORE)
    return {
        "iou_clean": iou(pred, scene.clean, valid),
        "iou_clean_train": iou(pred, scene.clean, valid & masks["train"]),
        "iou_clean_val": iou(pred, scene.clean, valid & masks["val"]),
        "iou_noisy": iou(pred, scene.noisy, valid & (scene.noisy != IGNORE)),
        "noise_recall": float(np.mean(pred[noisy_px] == scene.clean[noisy_px])),
        "noise_precision": np.count_nonzero(flagged & noisy_px) / max(np.count_nonzero(flagged), 1),
        "noisy_label_iou_clean": iou(scene.noisy, scene.clean, valid),
    }


def quality(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    work = WORK / "quality"
    work.mkdir(parents=True, exist_ok=True)
    tiles = ensure_tiles(WORK)
    src, tgt = rel(tiles["tiles_source"]), rel(tiles["tiles_target"])
    settings = ["--preset", args.preset, "--epochs", str(args.epochs)]
    if args.batch_size is not None:
        settings += ["--batch-size", str(args.batch_size)]
    common = ["--json", "--overwrite", *settings]
    runs: list[Run] = []
    teachers: dict[int, Run] = {}
    teacher_seeds = args.seeds if args.teacher_per_seed else args.seeds[:1]
    for seed in teacher_seeds:
        out = work / f"teacher_s{seed}.ckpt"
        cmd = geonoise_cmd("-q", "train-teacher", src, "-o", rel(out), "--seed", str(seed), *common)
        teachers[seed] = train("teacher", seed, cmd, work / f"teacher_s{seed}.log")
    for seed in args.seeds:
        teacher = teachers.get(seed) or teachers[teacher_seeds[0]]
        out = work / f"student_s{seed}.ckpt"
        cmd = geonoise_cmd(
            "-q",
            "train-student",
            tgt,
            "--teacher",
            teacher.result["model_file"],
            "-o",
            rel(out),
            "--seed",
            str(seed),
            "--distill-weight",
            str(args.distill_weight),
            *common,
        )
        runs.append(train("student", seed, cmd, work / f"student_s{seed}.log"))
        out = work / f"noisy_only_s{seed}.ckpt"
        cmd = geonoise_cmd("-q", "train-teacher", tgt, "-o", rel(out), "--seed", str(seed), *common)
        runs.append(train("noisy-only", seed, cmd, work / f"noisy_only_s{seed}.log"))

    scene = Scene.load(tiles["tiles_target"])
    for run in [*teachers.values(), *runs]:
        run.scores = score(str(ROOT / run.result["model_file"]), scene, run.seed)
    return quality_report(args, teachers, runs, scene), {
        "teachers": {s: (r.result, r.scores) for s, r in teachers.items()},
        "runs": [(r.name, r.seed, r.result, r.scores, r.seconds) for r in runs],
    }


def quality_report(
    args: argparse.Namespace, teachers: dict[int, Run], runs: list[Run], scene: Scene
) -> list[str]:
    lines = ["## Quality on the sample data", ""]
    lines += [
        f"Preset `{args.preset}`, {args.epochs} epochs (cosine schedule over them), batch size "
        f"{args.batch_size or 8}, all other settings the defaults of `config.yaml` "
        "(AdamW lr 0.002, SCE α = β = 0.5, "
        f"λ = {args.distill_weight}, augmentation on, 20 % spatially blocked validation, "
        "early-stopping patience "
        "15); the model file holds the weights of the epoch with the lowest validation loss. "
        f"Seeds {', '.join(map(str, args.seeds))} for student and baseline (the seed also draws "
        "the train/validation split, so each seed validates on other tiles); teacher seed"
        f"{'s' if len(teachers) > 1 else ''} {', '.join(map(str, teachers))}.",
        "",
        "Commands (from the repository root; the tiles are made exactly as `make demo` makes "
        "them):",
        "",
        "```sh",
    ]
    for name, cmd_args in TILE_COMMANDS.items():
        lines.append(shown(geonoise_cmd(*cmd_args, "-o", rel(WORK / name))))
    shown_runs = [*teachers.values(), *[r for r in runs if r.seed == args.seeds[0]]]
    lines += [shown(r.cmd) for r in shown_runs]
    if len(args.seeds) > 1:
        lines.append(f"# … and the same with --seed {' / '.join(map(str, args.seeds[1:]))}")
    lines += ["```", ""]

    lines += ["### Teacher (clean source scene)", ""]
    lines += [
        "| seed | epochs run | train s | best val IoU building | val mIoU | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for seed, run in teachers.items():
        m = run.result["metrics"]
        v = m.get("val_iou_building", float("nan"))
        verdict = "met" if v >= TEACHER_TARGET else "NOT met"
        lines.append(
            f"| {seed} | {run.result['epochs_run']} | {run.seconds:.0f} | **{v:.3f}** "
            f"| {m.get('val_miou', float('nan')):.3f} | {verdict} "
            f"({v - TEACHER_TARGET:+.3f} vs {TEACHER_TARGET}) |"
        )
    lines.append("")
    lines.append(
        "Validation IoU is over the teacher's validation tiles of the *source* scene "
        "(spatially blocked, never trained on), as logged by the training run."
    )
    lines.append("")

    keys = [
        ("iou_clean", "IoU vs clean, whole scene"),
        ("iou_clean_train", "IoU vs clean, training-tile pixels"),
        ("iou_clean_val", "IoU vs clean, validation-tile pixels"),
        ("iou_noisy", "IoU vs noisy labels, whole scene"),
        ("noise_recall", "noisy pixels: recall (pred = clean truth)"),
        ("noise_precision", "noisy pixels: precision (of pred ≠ given label)"),
    ]
    by = {name: [r for r in runs if r.name == name] for name in ("student", "noisy-only")}
    lines += [
        "### Student vs the same network trained on the noisy labels alone (target scene)",
        "",
        "Every model predicts the whole 1024² target scene (`sample_data/target/scene.tif`)"
        " in one forward pass, normalised with its own statistics; building IoU against "
        "`labels_clean.tif` (pixels labelled 255 excluded). *Training/validation-tile "
        "pixels* are the union of the footprints of that seed's training and validation "
        "tiles (`blocked_split(TileDataset(tiles).index, 0.2, None, seed)`; the two do not "
        "overlap). For reference, the noisy labels themselves score IoU "
        f"{runs[0].scores['noisy_label_iou_clean']:.3f} against the clean truth; "
        f"{np.count_nonzero(scene.noise == 1) / scene.noise.size:.1%} of the pixels are "
        "noisy.",
        "",
        f"Mean ± std over seeds {', '.join(map(str, args.seeds))}:",
        "",
    ]
    teacher_run = next(iter(teachers.values()))
    lines += [
        "| metric | student (teacher-guided) | noisy-only baseline | student − baseline "
        "| student better in | teacher alone (no target training) |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in keys:
        s = [r.scores[key] for r in by["student"]]
        b = [r.scores[key] for r in by["noisy-only"]]
        d = [x - y for x, y in zip(s, b, strict=True)]
        better = sum(x > 0 for x in d) if key != "iou_noisy" else sum(x < 0 for x in d)
        lines.append(
            f"| {label} | {fmt(s)} | {fmt(b)} | {fmt(d)} | {better}/{len(d)} seeds "
            f"{'(lower is better)' if key == 'iou_noisy' else ''}| "
            f"{teacher_run.scores[key]:.3f} |"
        )
    lines += [
        "",
        "Per seed:",
        "",
        "| model | seed | epochs run | train s | best val IoU building (noisy val labels) "
        "| IoU clean scene | IoU clean train px | IoU clean val px | IoU noisy | "
        "noise recall | noise precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in sorted(runs, key=lambda r: (r.name, r.seed)):
        m, sc = run.result["metrics"], run.scores
        lines.append(
            f"| {run.name} | {run.seed} | {run.result['epochs_run']} | "
            f"{run.seconds:.0f} | {m.get('val_iou_building', float('nan')):.3f} | "
            f"{sc['iou_clean']:.3f} | {sc['iou_clean_train']:.3f} | "
            f"{sc['iou_clean_val']:.3f} | {sc['iou_noisy']:.3f} | "
            f"{sc['noise_recall']:.3f} | {sc['noise_precision']:.3f} |"
        )
    s = [r.scores["iou_clean"] for r in by["student"]]
    b = [r.scores["iou_clean"] for r in by["noisy-only"]]
    wins = sum(x > y for x, y in zip(s, b, strict=True))
    mean_gain = statistics.mean(s) - statistics.mean(b)
    lines += ["", "### Verdicts", ""]
    t = [r.result["metrics"].get("val_iou_building", float("nan")) for r in teachers.values()]
    lines.append(
        f"- Teacher validation IoU for buildings ≥ {TEACHER_TARGET}: "
        f"**{'met' if min(t) >= TEACHER_TARGET else 'NOT met'}** "
        f"({fmt(t)}; margin {min(t) - TEACHER_TARGET:+.3f})."
    )
    verdict = "NOT met" if mean_gain <= 0 else "met" if wins == len(s) else "met on average only"
    lines.append(
        f"- Student IoU against the clean truth higher than the noisy-only baseline: "
        f"**{verdict}**"
        f" (whole scene {fmt(s)} vs {fmt(b)}, mean difference {mean_gain:+.3f}; "
        f"student higher in {wins} of {len(s)} seeds)."
    )
    return lines


# --------------------------------------------------------------------------- throughput


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for pattern in (
        ".*does not have many workers.*",
        ".*LeafSpec.*",
        ".*val_dataloader.*",
        ".*number of training batches.*",
        ".*deterministic.*",
        ".*does not have a deterministic implementation.*",
        ".*exists and is not empty.*",
    ):
        warnings.filterwarnings("ignore", pattern)


class BareStep:
    """(a): forward + SCE + backward + AdamW step of its own network on one fixed batch.

    Always run with torch's default (non-deterministic) algorithms, whatever the trainer
    around it has switched on, so that it measures the network alone.
    """

    def __init__(self, model_config: Any, image: Any, mask: Any) -> None:
        import torch

        from geonoise.models.nrn_rsseg import NRNRSSEG
        from geonoise.training.losses import SymmetricCrossEntropy

        self.model = NRNRSSEG(model_config).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=2e-3, weight_decay=1e-4)
        self.sce = SymmetricCrossEntropy(0.5, 0.5, ignore_index=IGNORE)
        self.image, self.mask = image, mask

    def __call__(self) -> float:
        import torch

        deterministic = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(False)
        try:
            with torch.enable_grad():
                start = time.perf_counter()
                self.optimizer.zero_grad(set_to_none=True)
                logits, _ = self.model(self.image)
                self.sce(logits, self.mask).backward()
                self.optimizer.step()
                return time.perf_counter() - start
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def make_pairer(bare: Any):
    """A callback that runs one bare step after every training batch and times both.

    The full step *i+1* is the wall time from the end of the bare step that followed batch
    *i* to the end of batch *i+1*: it holds everything Lightning does for a batch (fetch and
    collate, transfer, normalise, augment, forward, loss, backward, step, logging, other
    callbacks, epoch boundaries). Adjacent full and bare steps see the same machine load, so
    their ratio stays meaningful on a machine shared with other work.
    """
    import lightning as L

    class Pairer(L.Callback):
        def __init__(self) -> None:
            self.rows: list[tuple[int, float, float]] = []
            self.resume: float | None = None

        def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
            if self.resume is None:
                self.resume = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            full = time.perf_counter() - self.resume
            self.rows.append((trainer.current_epoch, full, bare()))
            self.resume = time.perf_counter()

    return Pairer()


def fit_paired(
    meta: dict,
    dataset: Any,
    bare: Any,
    epochs: int,
    warmup_epochs: int = 1,
    extra: dict | None = None,
) -> list[tuple[float, float]]:
    """(full, bare) seconds of the steps of ``trainer.fit`` of a TeacherTask after warm-up."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from geonoise.training.tasks import TeacherTask

    task = TeacherTask(
        meta,
        lr=2e-3,
        weight_decay=1e-4,
        max_epochs=warmup_epochs + epochs,
        sce={"alpha": 0.5, "beta": 0.5},
        augment=True,
    )
    pairer = make_pairer(bare)
    options = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": warmup_epochs + epochs,
        "limit_val_batches": 0,
        "num_sanity_val_steps": 0,
        "enable_checkpointing": False,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [pairer],
    }
    options.update(extra or {})
    trainer = L.Trainer(**options)
    loader = DataLoader(
        dataset, batch_size=BATCH, shuffle=True, num_workers=0, drop_last=len(dataset) > BATCH
    )
    try:
        with contextlib.redirect_stdout(sys.stderr):
            trainer.fit(task, loader)
    finally:
        torch.use_deterministic_algorithms(False)  # Lightning leaves `deterministic` switched on
    return [(full, b) for epoch, full, b in pairer.rows if epoch >= warmup_epochs]


def time_pieces(
    cached: Any, uncached: Any, batch: dict, mean: Any, std: Any, reps: int
) -> dict[str, float]:
    """Median seconds of the parts of a step alone, measured interleaved, one batch each."""
    import kornia.augmentation as K
    import torch
    from torch.utils.data import DataLoader

    from geonoise.training.augment import (
        RandomBandJitter,
        RandomD4,
        RandomNoise,
        build_augmentation,
    )

    loaders = {
        key: DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True)
        for key, ds in (("loader_cache_on", cached), ("loader_cache_off", uncached))
    }
    iters = {key: iter(loader) for key, loader in loaders.items()}
    augment = build_augmentation()
    single = {
        "aug_d4": RandomD4(),
        "aug_affine": K.RandomAffine(degrees=10.0, scale=(0.9, 1.1), p=0.5),
        "aug_jitter": RandomBandJitter(),
        "aug_noise": RandomNoise(),
    }
    single = {
        k: K.AugmentationSequential(t, data_keys=["input", "mask"]) for k, t in single.items()
    }
    image = (batch["image"] - mean) / std
    shifted = (batch["mask"] + 1).unsqueeze(1)
    times: dict[str, list[float]] = {}

    def clock(key: str, fn: Any) -> None:
        start = time.perf_counter()
        fn()
        times.setdefault(key, []).append(time.perf_counter() - start)

    def draw(key: str) -> None:
        try:
            next(iters[key])
        except StopIteration:
            iters[key] = iter(loaders[key])
            next(iters[key])

    with torch.no_grad():
        for rep in range(reps + 1):
            for key in loaders:
                clock(key, lambda key=key: draw(key))
            clock("normalise", lambda: (batch["image"] - mean) / std)
            clock(
                "normalise_augment",
                lambda: augment({**batch, "image": (batch["image"] - mean) / std}),
            )
            torch.use_deterministic_algorithms(True, warn_only=True)
            try:
                clock(
                    "normalise_augment_det",
                    lambda: augment({**batch, "image": (batch["image"] - mean) / std}),
                )
            finally:
                torch.use_deterministic_algorithms(False)
            for key, seq in single.items():
                clock(key, lambda seq=seq: seq(image, shifted))
            if rep == 0:  # warm-up
                times.clear()
    return {key: statistics.median(values) for key, values in times.items()}


def profile_fit(
    meta: dict, dataset: Any, bare: BareStep, epochs: int, extra: dict | None, top: int = 15
) -> list[str]:
    """cProfile of a short ``trainer.fit``: named parts of a step, and the top own times."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    pairs = fit_paired(meta, dataset, lambda: 0.0, epochs, warmup_epochs=0, extra=extra)
    profiler.disable()
    steps = len(pairs)
    stats = pstats.Stats(profiler).stats
    parts = {
        "DataLoader: fetch + collate (`_DataLoaderIter.__next__`)": ("dataloader.py", "__next__"),
        "normalise + augment (`SegmentationTask.on_after_batch_transfer`)": (
            "geonoise/training.py",
            "on_after_batch_transfer",
        ),
        "augmentation alone (`SegmentationAugmentation.forward`)": (
            "geonoise/augment.py",
            "forward",
        ),
        "forward + loss (`SegmentationTask.training_step`)": (
            "geonoise/training.py",
            "training_step",
        ),
        "backward (`Tensor.backward`)": ("torch/_tensor.py", "backward"),
        "optimizer update (`torch.optim.adam.adam`, AdamW's arithmetic)": (
            "torch/optim/adam.py",
            "adam",
        ),
        "`LightningModule.log`": ("lightning/pytorch/core/module.py", "log"),
    }
    lines = [
        f"Profiled: {steps} steps; cumulative seconds per step of named functions:",
        "",
        "| part | s / step |",
        "|---|---|",
    ]
    wall = sum(full for full, _ in pairs) / max(steps, 1)
    named = 0.0
    for label, (file, func) in parts.items():
        cum = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(file) and fn == func)
        cum /= max(steps, 1)
        named += 0.0 if "alone" in label else cum
        lines.append(f"| {label} | {cum:.3f} |")
    lines += [
        f"| everything else (Lightning's loop, hooks, logging, epoch ends) | {wall - named:.3f} |",
        f"| **whole step (wall, under the profiler)** | **{wall:.3f}** |",
    ]
    total_own = sum(v[2] for v in stats.values())
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    lines += [
        "",
        "Functions with the most time of their own (all steps; cProfile's overhead "
        "inflates Python-heavy code):",
        "",
        "| own s | share | calls | cumulative s | function |",
        "|---|---|---|---|---|",
    ]
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in rows:
        where = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        lines.append(
            f"| {tottime:.2f} | {tottime / total_own:.0%} | {ncalls} | {cumtime:.2f} "
            f"| `{where}:{line}({func})` |"
        )
    return lines


def throughput(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    import torch

    from geonoise.data.datasets import TileDataset
    from geonoise.models.nrn_rsseg import ModelConfig
    from geonoise.training.config import TrainConfig
    from geonoise.training.meta import build_meta

    _quiet_lightning()
    torch.set_num_threads(THREADS)
    tiles = ensure_tiles(WORK)["tiles_source"]
    cached = TileDataset(tiles, cache=True)
    cached.preload()
    uncached = TileDataset(tiles, cache=False)
    steps_per_epoch = len(cached) // BATCH
    cli_extra = {"log_every_n_steps": 1, "deterministic": "warn"}
    configs = {
        "b_cache_on": ("(b) full `trainer.fit` step, cache on", cached, None),
        "b_cache_off": ("(b) full `trainer.fit` step, cache off", uncached, None),
        "b_cli": ("(b′) full step, CLI trainer settings, cache on", cached, "cli"),
        "b_unpaired": ("(b) cache on, unpaired: the fit alone, then (a) alone", cached, "unpaired"),
    }
    results: dict[str, Any] = {}
    lines = ["## Training throughput", ""]
    lines += [
        f"Tiles of the clean source scene (`{rel(tiles)}`: {len(cached)} tiles of "
        f"{cached.tile_size}² px, {cached.band_count} bands, all used for training, "
        f"{steps_per_epoch} steps per epoch), batch size {BATCH}, torch threads = {THREADS}, "
        "`num_workers=0` (the default), fp32 on the CPU.",
        "",
        "- **(b) full**: `trainer.fit` of `geonoise.training.tasks.TeacherTask` with the real "
        "`DataLoader(TileDataset(...), batch_size=8, shuffle=True, drop_last=True)`; each step "
        "draws and collates the batch, moves it, normalises and augments it "
        "(`on_after_batch_transfer`, kornia), runs forward, SCE, backward, AdamW, and "
        "Lightning's `self.log('train_loss', on_epoch=True)`. `limit_val_batches=0`, no "
        "checkpointing, no logger, no progress bar. Nothing is subtracted: a step is the wall "
        "time from the end of the previous step to the end of `on_train_batch_end` (epoch "
        f"boundaries included). 1 warm-up epoch, then {args.fit_epochs} timed epochs "
        f"= {args.fit_epochs * steps_per_epoch} steps per run.",
        "- **(a) bare**: `zero_grad`, forward, SCE loss, backward, AdamW step of a second copy "
        "of the same network on one fixed, normalised in-memory batch of 8 tiles. One bare step "
        "runs right after every full step (from a callback, outside the timed full step), so "
        "each (b) step has an (a) step next to it in time under the same machine load; the "
        "ratio is the median of the per-step ratios (the *sum* ratio, total (b) / total (a), "
        "beside it).",
        "- **(b′) CLI trainer settings**: as (b) plus the per-step settings that "
        "`geonoise.training.trainer.build_trainer` adds: `log_every_n_steps=1` and "
        "`deterministic='warn'` (which switches on `torch.use_deterministic_algorithms(True, "
        "warn_only=True)` and with it the filling of every uninitialised tensor). The bare "
        "steps stay non-deterministic.",
        "- **unpaired** check: the cache-on fit with no bare steps in between, then as many "
        "bare steps in a row right after it (the ratio pairs them by order); on a quiet "
        "machine it shows whether running the two alternately changes either.",
        f"- the pieces alone ({args.piece_reps} interleaved repeats, median): one batch from the "
        "DataLoader (cache on / off), normalisation, normalisation + `build_augmentation()` "
        "(with and without deterministic algorithms) and each augmentation alone on image + "
        "mask.",
        "",
    ]
    table = [
        "| preset | params | measurement | s / step (median) | tiles/s | (a) bare s / step "
        "(median of its pairs) | bare tiles/s | ratio (b)/(a), median of pairs | "
        "ratio of sums |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    pieces_table = ["| preset | piece | s / batch of 8 | share of (a) |", "|---|---|---|---|"]
    verdicts = []
    profile_target = None
    for preset in args.presets:
        meta = build_meta(cached, TrainConfig(preset=preset), "teacher")
        model_cfg = ModelConfig.from_dict(meta["model"])
        torch.manual_seed(0)
        sample = next(iter(torch.utils.data.DataLoader(cached, batch_size=BATCH)))
        mean = torch.tensor(meta["band_mean"]).view(1, -1, 1, 1)
        std = torch.tensor(meta["band_std"]).view(1, -1, 1, 1)
        bare = BareStep(model_cfg, ((sample["image"] - mean) / std).contiguous(), sample["mask"])
        params = sum(p.numel() for p in bare.model.parameters())
        bare()  # warm-up
        res: dict[str, Any] = {"params": params}
        for key, (label, dataset, extra) in configs.items():
            print(f"  throughput {preset}: {label}", file=sys.stderr, flush=True)
            if extra == "unpaired":  # the fit alone, then as many bare steps alone
                fulls = [f for f, _ in fit_paired(meta, dataset, lambda: 0.0, args.fit_epochs)]
                pairs = [(f, bare()) for f in fulls]
            else:
                pairs = fit_paired(
                    meta,
                    dataset,
                    bare,
                    args.fit_epochs,
                    extra=cli_extra if extra == "cli" else None,
                )
            full = [f for f, _ in pairs]
            bares = [b for _, b in pairs]
            res[key] = {
                "full": statistics.median(full),
                "bare": statistics.median(bares),
                "ratio": statistics.median([f / b for f, b in pairs]),
                "sum_ratio": sum(full) / sum(bares),
                "pairs": pairs,
            }
            r = res[key]
            table.append(
                f"| {preset} | {params / 1e6:.2f} M | {label} | {r['full']:.3f} | "
                f"{BATCH / r['full']:.2f} | {r['bare']:.3f} | {BATCH / r['bare']:.2f} "
                f"| **{r['ratio']:.2f}** | {r['sum_ratio']:.2f} |"
            )
            if (
                profile_target is None
                and (args.profile or r["ratio"] > RATIO_TARGET)
                and key in ("b_cache_on", "b_cli")
            ):
                profile_target = (
                    preset,
                    label,
                    meta,
                    dataset,
                    bare,
                    cli_extra if extra == "cli" else None,
                )
        print(f"  throughput {preset}: pieces", file=sys.stderr, flush=True)
        pieces = time_pieces(cached, uncached, sample, mean, std, args.piece_reps)
        res["pieces"] = pieces
        bare_ref = res["b_cache_on"]["bare"]
        names = {
            "loader_cache_on": "DataLoader batch, cache on",
            "loader_cache_off": "DataLoader batch, cache off (GeoTIFF reads)",
            "normalise": "normalise",
            "normalise_augment": "normalise + augment",
            "normalise_augment_det": "normalise + augment, deterministic algorithms on",
            "aug_d4": "  RandomD4 alone (image + mask)",
            "aug_affine": "  RandomAffine(10°, 0.9–1.1, p=0.5) alone",
            "aug_jitter": "  RandomBandJitter alone",
            "aug_noise": "  RandomNoise alone",
        }
        for key, label in names.items():
            pieces_table.append(
                f"| {preset} | {label} | {pieces[key]:.4f} | {pieces[key] / bare_ref:.1%} |"
            )
        for key, what in (
            ("b_cache_on", "cache on"),
            ("b_cache_off", "cache off"),
            ("b_cli", "CLI trainer settings, cache on"),
            ("b_unpaired", "cache on, unpaired"),
        ):
            r = res[key]
            ok = "met" if r["ratio"] <= RATIO_TARGET else "NOT met"
            verdicts.append(
                f"- `{preset}`, {what}: (b)/(a) = **{r['ratio']:.2f}** ({ok}, "
                f"{r['ratio'] - RATIO_TARGET:+.2f} against ≤ {RATIO_TARGET}); "
                f"{BATCH / r['full']:.2f} tiles/s in training vs "
                f"{BATCH / r['bare']:.2f} bare."
            )
        results[preset] = res
    lines += [
        *table,
        "",
        "The pieces of a step alone (median seconds per batch of 8; share of "
        "the bare step of the same preset, cache-on run):",
        "",
        *pieces_table,
    ]
    lines += ["", "Every step's (b) and (a) seconds, in order:", ""]
    for preset in args.presets:
        for key in configs:
            pairs = results[preset][key]["pairs"]
            lines.append(f"- {preset} {key}: " + ", ".join(f"{f:.2f}/{b:.2f}" for f, b in pairs))
    lines += ["", "### Verdicts", "", *verdicts, ""]
    if profile_target is not None:
        preset, label, meta, dataset, bare, extra = profile_target
        print(f"  throughput {preset}: profiling {label}", file=sys.stderr, flush=True)
        lines += [f"### Profile: {label}, preset `{preset}` (cProfile, 1 epoch)", ""]
        lines += [*profile_fit(meta, dataset, bare, 1, extra), ""]
    return lines, results


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quality", action="store_true", help="Run the quality part.")
    parser.add_argument("--throughput", action="store_true", help="Run the throughput part.")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="Seeds of student and baseline (default: 0 1 2).",
    )
    parser.add_argument("--epochs", type=int, default=30, help="Training epochs (default: 30).")
    parser.add_argument("--preset", default="tiny", help="Model preset of the quality part.")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="Batch size of the quality runs (default: config.yaml's, 8).",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=0.5,
        help="λ of the students (default: 0.5, as config.yaml).",
    )
    parser.add_argument(
        "--teacher-per-seed",
        action="store_true",
        help="Train a teacher per seed (default: one, with the first seed).",
    )
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["tiny", "seed"],
        help="Presets of the throughput part (default: tiny seed).",
    )
    parser.add_argument(
        "--fit-epochs",
        type=int,
        default=3,
        help="Timed epochs of each trainer.fit, after 1 warm-up (default 3).",
    )
    parser.add_argument(
        "--piece-reps", type=int, default=10, help="Repeats of the pieces timed alone (default 10)."
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="Profile trainer.fit even when the ratio meets the target.",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=REPORT,
        help=f"Markdown report (default: {rel(REPORT)}).",
    )
    args = parser.parse_args(argv)
    if not (args.quality or args.throughput):
        args.quality = args.throughput = True
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)

    argv_shown = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    command = f".venv/bin/python benchmarks/bench_training.py {argv_shown}".rstrip()
    parts = {}
    if args.quality:  # one part per setting, so runs with other settings stay in the report
        setting = f"quality-{args.preset}-e{args.epochs}-b{args.batch_size or 8}"
        parts[setting] = quality(args)[0]
    if args.throughput:
        parts["throughput"] = throughput(args)[0]
    ended = time.perf_counter()
    for name, lines in parts.items():  # each part keeps its latest results and their context
        part = [
            f"<!-- part: {name} -->",
            "",
            "Command:",
            "",
            "```sh",
            command,
            "```",
            "",
            *machine(load_start),
            f"- Wall time of this run: {ended - start:.0f} s",
            "",
            *lines,
        ]
        (WORK / f"{args.output.stem}.{name}.part.md").write_text("\n".join(part) + "\n")
    body: list[str] = []
    for path in [
        *sorted(WORK.glob(f"{args.output.stem}.quality*.part.md")),
        WORK / f"{args.output.stem}.throughput.part.md",
    ]:
        if path.exists():
            body += [path.read_text()]
    report = [
        "# Training benchmark",
        "",
        "Written by `benchmarks/bench_training.py` (overwritten on each run; a run of one part "
        "keeps the other part's latest results, each with the command and machine state that "
        "produced it). Both parts: `.venv/bin/python benchmarks/bench_training.py`.",
        "",
        *body,
    ]
    text = "\n".join(report) + "\n"
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
