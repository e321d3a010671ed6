"""Presets at the same wall-clock budget: which network learns most on real scenes per minute?

For each preset (tiny, small, seed) the seconds per optimizer step of ``geonoise
train-teacher`` are measured first on this machine (a short run of each, the same
data, windows and batch), and each preset then gets as many steps as fit in the same
budget of seconds. Every teacher is trained on the west half of a real tree scene
(``real_data.py``; the tiles ``bench_real.py`` cuts) and scored by the IoU of its
predicted trees against the clean crowns of the east half.

    .venv/bin/python benchmarks/bench_presets.py --budget 180
    .venv/bin/python benchmarks/bench_presets.py --budget 180 --scenes osbs

Results: ``benchmarks/presets.md`` and ``benchmarks/presets.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_data  # noqa: E402
from bench_quality import run  # noqa: E402
from bench_real import GEONOISE, WORK, detect, target_files, tile, tree_iou  # noqa: E402
from machine import cpu_name  # noqa: E402

PRESETS = ("tiny", "small", "seed")
#: Steps of the timing runs; seconds per step = (long − short) / (LONG − SHORT).
SHORT, LONG = 5, 25


def seconds_per_step(preset: str, tiles: Path, out: Path, log: list[str]) -> float:
    """Wall seconds per optimizer step of ``train-teacher`` with ``preset`` on ``tiles``."""
    times = []
    for steps in (SHORT, LONG):
        command = [GEONOISE, "-q", "train-teacher", tiles, "-o", out / f"{preset}_{steps}.ckpt"]
        command += ["--overwrite", "--preset", preset, "--steps", str(steps)]
        started = time.perf_counter()
        run(command, log)
        times.append(time.perf_counter() - started)
    return (times[1] - times[0]) / (LONG - SHORT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training")
    parser.add_argument("--scenes", nargs="*", default=list(real_data.TREE_SCENES))
    parser.add_argument("-o", "--output", type=Path, default=HERE / "presets.md")
    args = parser.parse_args(argv)
    log: list[str] = []
    rows = []
    timing_dir = WORK / "presets" / "timing"
    timing_dir.mkdir(parents=True, exist_ok=True)
    first_scene, _ = real_data.tree_scene(args.scenes[0], WORK)
    west, _ = real_data.split_halves(first_scene, WORK / args.scenes[0])
    tiles = tile(
        west, WORK / args.scenes[0] / "crowns.gpkg", WORK / args.scenes[0] / "tiles_west", log
    )
    cost = {preset: seconds_per_step(preset, tiles, timing_dir, log) for preset in PRESETS}
    for name in args.scenes:
        scene, crowns = real_data.tree_scene(name, WORK)
        west, east = real_data.split_halves(scene, WORK / name)
        files = target_files(east, crowns, WORK / name / "target", 0)
        tiles = tile(west, crowns, WORK / name / "tiles_west", log)
        for preset in PRESETS:
            steps = max(10, round(args.budget / cost[preset]))
            out = WORK / "presets" / f"b{args.budget:g}" / name
            out.mkdir(parents=True, exist_ok=True)
            model = out / f"{preset}.ckpt"
            if not model.exists():
                command = [GEONOISE, "-q", "train-teacher", tiles, "-o", model, "--overwrite"]
                started = time.perf_counter()
                run([*command, "--preset", preset, "--steps", str(steps)], log)
                seconds = time.perf_counter() - started
            else:
                seconds = float("nan")
            noise = detect(east, files["clean.gpkg"], model, out / f"{preset}.tif", log)
            iou = tree_iou(noise, files["clean.tif"])
            rows.append({"scene": name, "preset": preset, "steps": steps, "seconds": seconds,
                         "seconds_per_step": cost[preset], "tree_iou": iou})  # fmt: skip
    write_report(rows, args, log, argv)
    return 0


def write_report(rows: list[dict], args: argparse.Namespace, log: list[str], argv) -> None:
    import torch

    stem = args.output.stem
    args.output.with_name(f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    given = shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# Presets at the same wall-clock budget",
        "",
        f"Produced by `.venv/bin/python benchmarks/bench_presets.py{' ' + given if given else ''}`"
        f"; every number comes from that run (also in `{stem}.json`). Each preset trains a "
        f"teacher for about {args.budget:g} s on the west half of each scene (steps = budget / "
        "the seconds per step measured first on this machine), scored by the IoU of its trees "
        "against the clean crowns of the east half.",
        "",
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}; other "
        "processes may have shared the machine (see the measured seconds)",
        "",
        "| scene | preset | s / step | steps | seconds trained | tree IoU (east) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scene']} | {r['preset']} | {r['seconds_per_step']:.2f} | {r['steps']} | "
            f"{r['seconds']:.0f} | {r['tree_iou']:.3f} |"
        )
    means = {p: sum(r["tree_iou"] for r in rows if r["preset"] == p) / max(
        1, sum(r["preset"] == p for r in rows)) for p in PRESETS}  # fmt: skip
    lines += ["", "Mean tree IoU: " + ", ".join(f"{p} {v:.3f}" for p, v in means.items()), ""]
    lines += ["## Commands", "", "```", *log, "```", ""]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines[8:]))


if __name__ == "__main__":
    sys.exit(main())
