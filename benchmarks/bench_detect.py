"""Benchmark `geonoise detect`: overhead over the bare model, and memory against scene size.

In one run, on this machine:

1. **Overhead** — the whole `geonoise detect` command (start-up, reading, labels,
   blending, scoring, COG writing; quicklook off, test-time augmentation off unless
   the row says TTA)
   against the pure model forward of the same windows with the same backend and
   batch size, on in-memory arrays. Target: ratio ≤ 1.15. The forward is timed
   with ONNX Runtime's threads spinning (its default), idle, and with two batches
   side by side on one session (as detect runs it); the fastest counts.
   With ``--tta-presets``, also detect's default configuration, test-time
   augmentation on, against eight forwards per window.
2. **Memory** — peak RSS of `detect` on a scene and on one four times larger
   (2× per side). Target: ratio ≤ 1.2.

Models are random-weight NRN-RSSEG networks of the `tiny` and `seed` presets
exported to ONNX (what users run on CPUs); speed does not depend on the weights.

    .venv/bin/python benchmarks/bench_detect.py [--sizes 2048 4096] [--presets tiny seed]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_tile import Run, make_scene, measure  # noqa: E402
from machine import cpu_name  # noqa: E402

ROOT = HERE.parent
WORK = HERE / "_work" / "detect"
GEONOISE = ROOT / ".venv" / "bin" / "geonoise"
WINDOW, OVERLAP, BATCH = 256, 32, 4


def make_model(preset: str) -> Path:
    """A random-weight model file and its ONNX export (cached)."""
    import torch

    from geonoise.models.checkpoint import ModelMeta, save_model
    from geonoise.models.export import export_onnx
    from geonoise.models.nrn_rsseg import NRNRSSEG, model_config

    onnx_path = WORK / f"{preset}_k4.onnx"
    if onnx_path.exists():
        return onnx_path
    WORK.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = model_config(preset, num_classes=4)  # the benchmark labels have 4 classes
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=[f"class_{k}" for k in range(4)],
        band_mean=[128.0] * 3,
        band_std=[64.0] * 3,
        tile_size=WINDOW,
    )
    checkpoint = WORK / f"{preset}.ckpt"
    save_model(checkpoint, NRNRSSEG(config).eval(), meta)
    export_onnx(checkpoint, onnx_path, overwrite=True)
    return onnx_path


def windows_of(size: int) -> int:
    from geonoise.windows import window_grid

    return len(window_grid(size, size, WINDOW, OVERLAP))


def pure_forward(model: Path, windows: int, repeats: int, passes: int = 1) -> float:
    """Seconds for the model alone on ``windows`` windows, batched as detect batches them,
    ``passes`` times each (8 for test-time augmentation): the fastest of ONNX Runtime
    with its threads spinning, with them idle, and with two batches run side by side
    on one session (as detect runs ONNX models on the CPU)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from geonoise.models.inference import open_predictor
    from geonoise.parallel import available_cpus

    batch = np.random.default_rng(0).uniform(0, 255, (BATCH, 3, WINDOW, WINDOW))
    batch = batch.astype(np.float32)
    sizes = [BATCH] * (windows // BATCH) + ([windows % BATCH] if windows % BATCH else [])
    lanes = 2 if available_cpus() >= 2 else 1

    def forward(predictor, n: int) -> None:
        for _ in range(passes):
            predictor.predict(batch[:n])

    times = []
    for spin, side_by_side in ((True, 1), (False, 1), (True, lanes)):
        threads = available_cpus() - side_by_side + 1 if side_by_side > 1 else None
        predictor = open_predictor(model, "cpu", spin=spin, threads=threads)
        predictor.predict(batch)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            with ThreadPoolExecutor(side_by_side) as pool:
                list(pool.map(lambda n, p=predictor: forward(p, n), sizes))
            times.append(time.perf_counter() - started)
    return min(times)


def run_detect(
    scene: Path, labels: Path, model: Path, name: str, repeats: int, tta: bool = False
) -> list[Run]:
    runs = []
    for index in range(repeats):
        out = WORK / "out" / f"{name}_{index}.tif"
        shutil.rmtree(out.parent, ignore_errors=True)
        out.parent.mkdir(parents=True)
        command = [
            str(GEONOISE),
            "-q",
            "detect",
            str(scene),
            "-l",
            str(labels),
            "-m",
            str(model),
            "-o",
            str(out),
            "--window",
            str(WINDOW),
            "--overlap",
            str(OVERLAP),
            "--batch-size",
            str(BATCH),
            "--no-quicklook",
            "--tta" if tta else "--no-tta",  # as many forwards as the baseline
        ]
        time_v = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
        runs.append(measure(command, WORK / f"{name}.log", 0.05, time_v))
    return runs


def machine() -> list[str]:
    import os

    import onnxruntime
    import rasterio
    import torch

    return [
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores",
        f"- Python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}, rasterio {rasterio.__version__} (GDAL "
        f"{rasterio.__gdal_version__})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[2048, 4096])
    parser.add_argument("--presets", nargs="+", default=["tiny", "seed"])
    parser.add_argument(
        "--tta-presets",
        nargs="*",
        default=["tiny"],
        help="presets also timed in detect's default configuration, test-time augmentation "
        "on (8 forwards per window; the seed preset takes minutes per run there)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "detect.md")
    args = parser.parse_args(argv)
    small, large = args.sizes
    rows, memory = [], {}
    plan = [(p, False) for p in args.presets] + [(p, True) for p in args.tta_presets]
    for preset, tta in plan:
        model = make_model(preset)
        for size in (small, large):
            scene, labels = make_scene(WORK.parent, size)
            name = f"{preset}_{size}{'_tta' if tta else ''}"
            runs = run_detect(scene, labels, model, name, args.repeats, tta)
            if not tta:
                memory[(preset, size)] = max(r.maxrss_mb for r in runs)
            forward = pure_forward(model, windows_of(size), args.repeats, 8 if tta else 1)
            whole = min(r.seconds for r in runs)
            cpu = [r.cpu for r in runs if r.cpu is not None]
            rows.append(
                (
                    preset + (" + TTA" if tta else ""),
                    size,
                    windows_of(size),
                    whole,
                    statistics.median(r.seconds for r in runs),
                    min(cpu) if cpu else None,
                    forward,
                    whole / forward,
                )
            )
    lines = [
        "# `geonoise detect`: overhead and memory",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_detect.py --sizes {small} {large} "
        f"--presets {' '.join(args.presets)} --tta-presets {' '.join(args.tta_presets)} "
        f"--repeats {args.repeats}`",
        "",
        *machine(),
        "",
        f"Window {WINDOW}, overlap {OVERLAP}, batch {BATCH}, ONNX Runtime on the CPU, "
        "random-weight models; RGB uint8 scene with a label raster on its grid.",
        "",
        "## Overhead: whole command over the pure model forward (target ≤ 1.15)",
        "",
        "| preset | scene | windows | detect s (best) | detect s (median) | detect CPU s | "
        "model forward s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for preset, size, windows, whole, median, cpu, forward, ratio in rows:
        verdict = "met" if ratio <= 1.15 else "not met"
        cpu_s = f"{cpu:.1f}" if cpu is not None else "?"
        lines.append(
            f"| {preset} | {size}² | {windows} | {whole:.2f} | {median:.2f} | {cpu_s} | "
            f"{forward:.2f} | **{ratio:.3f}** ({verdict}) |"
        )
    lines += [
        "",
        f"## Peak memory: {large}² (4× the pixels) over {small}² (target ≤ 1.2)",
        "",
        "| preset | peak RSS MiB, small | peak RSS MiB, large | ratio |",
        "|---|---:|---:|---:|",
    ]
    for preset in args.presets:
        a, b = memory[(preset, small)], memory[(preset, large)]
        verdict = "met" if b / a <= 1.2 else "not met"
        lines.append(f"| {preset} | {a:.0f} | {b:.0f} | **{b / a:.2f}** ({verdict}) |")
    lines += [
        "",
        "Peak RSS from GNU time (`/usr/bin/time -v`); the best of the runs' wall "
        "times is the least disturbed by other load.",
        "",
        "## Where the overhead goes",
        "",
        "- The model runs ahead in helper threads (ONNX on the CPU: two batches side by side, "
        "one thread each on these 2 cores) while the main thread blends, scores and writes. "
        "But the model alone fills both cores (about 2 CPU s per wall second), so on this "
        "CPU every CPU second of reading, blending, scoring and writing still adds about half "
        "a second of wall time: compare the detect CPU s column with twice the forward.",
        "- Fixed costs: start-up (Python, numpy, rasterio, onnxruntime, the session: about "
        "0.35 s) and, at the end, the COG copies of the noise map and the class companion "
        "with their overviews (about 0.7 s at 4096², 0.45 s of it the COG driver's overview "
        "pass; `io.write_cog` timed alone). They need the whole map, so nothing runs beside "
        "them.",
        "- Hence, without test-time augmentation, the tiny preset cannot reach 1.15 here: at "
        "4096² its budget is 0.15 × 4.2 s ≈ 0.6 s, less than start-up plus the COG copies; "
        "at 2048² the budget (0.14 s) is below the start-up alone. The seed preset's forward "
        "is 7× longer and meets the target at 4096². With test-time augmentation on (detect's "
        "default) the model does eight times the work, and the whole command stays within "
        "1.15× of it.",
        "- Per pixel, beside the model: reading and decoding the scene, one multiply-add per "
        "class per window pixel for blending, the class with the largest weighted sum, one "
        "division for p(label), the score, and the uncompressed strip writes: about 2.5 CPU "
        "s for a 4096² scene with 4 classes.",
        "",
    ]
    text = "\n".join(lines)
    args.output.write_text(text)
    print(text)
    print(json.dumps({"rows": rows}, default=str), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
