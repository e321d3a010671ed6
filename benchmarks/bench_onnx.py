"""Benchmark ONNX Runtime against eager PyTorch for NRN-RSSEG inference on this CPU.

For each model preset (default ``tiny`` and ``seed``, random weights: same architecture and
cost as trained models) and each input size (default 256² and 512², batch 4, 3 bands) it
times, in one run, on the same raw-pixel batch and with the same number of threads:

* ``torch``: :class:`geonoise.models.inference.TorchPredictor` as ``detect`` uses it (eval,
  ``torch.inference_mode``, channels-last on CPU), the baseline of the ratio;
* ``torch, contiguous``: the same without channels-last (plain eager PyTorch);
* ``onnxruntime``: :class:`geonoise.models.inference.OnnxPredictor` on the file ``geonoise export``
  writes (graph optimisation level ALL);
* ``onnxruntime, basic``: the same file with only ONNX Runtime's basic graph optimisations
  (constant folding, redundant-node elimination; no conv/batch-norm/activation fusion).

Each backend is warmed up, then the backends are run in turn ``--repeats`` times (interleaved,
so a change of machine load hits them alike); the report gives the median and the fastest
seconds per batch, megapixels per second and the ratio torch / onnxruntime (target ≥ 1.5×),
plus the largest difference of their probabilities. It is written as Markdown to
``benchmarks/onnx.md`` and printed.

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/bench_onnx.py
    .venv/bin/python benchmarks/bench_onnx.py --sizes 256 --repeats 9 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from machine import cpu_name  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "onnx"
TARGET = 1.5
BASELINE, CONTIGUOUS, ORT, ORT_BASIC = (
    "torch",
    "torch, contiguous",
    "onnxruntime",
    "onnxruntime, basic",
)


@dataclass
class Case:
    """Timings of one backend on one preset and input size."""

    preset: str
    size: int
    backend: str
    seconds: list[float]
    cpu_seconds: list[float]
    batch: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def megapixels_per_s(self) -> float:
        return self.batch * self.size**2 / 1e6 / self.median


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "seed"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="Threads of both backends.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed runs (median is shown).")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--no-variants",
        dest="variants",
        action="store_false",
        help="Only the two main backends (skip contiguous torch and basic ORT).",
    )
    parser.add_argument("--output", type=Path, default=HERE / "onnx.md")
    return parser.parse_args(argv)


def make_model_files(preset: str) -> tuple[Path, Path, float]:
    """A random-weights model file of ``preset``, its ONNX export, and the export's check."""
    import torch

    from geonoise.models.checkpoint import ModelMeta, save_model
    from geonoise.models.export import export_onnx
    from geonoise.models.nrn_rsseg import NRNRSSEG, model_config

    WORK.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = model_config(preset)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["background", "building"],
        band_mean=[110.0, 115.0, 100.0],
        band_std=[45.0, 40.0, 42.0],
        tile_size=256,
    )
    checkpoint, onnx_path = WORK / f"{preset}.ckpt", WORK / f"{preset}.onnx"
    save_model(checkpoint, NRNRSSEG(config), meta)
    summary = export_onnx(checkpoint, onnx_path, overwrite=True)
    return checkpoint, onnx_path, summary.max_abs_diff


def backends(
    checkpoint: Path, onnx_path: Path, threads: int, variants: bool
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The predict functions to time, by name."""
    import onnxruntime as ort

    from geonoise.models.checkpoint import load_model
    from geonoise.models.inference import OnnxPredictor, TorchPredictor

    cpu = ["CPUExecutionProvider"]
    runs = {
        BASELINE: TorchPredictor(*load_model(checkpoint), "cpu").predict,
        ORT: OnnxPredictor(onnx_path, providers=cpu, threads=threads).predict,
    }
    if variants:  # a model of its own: a TorchPredictor moves its model to its memory format
        contiguous = TorchPredictor(*load_model(checkpoint), "cpu", channels_last=False)
        runs[CONTIGUOUS] = contiguous.predict
        basic = OnnxPredictor(onnx_path, providers=cpu, threads=threads)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.intra_op_num_threads = threads
        basic.session = ort.InferenceSession(str(onnx_path), options, providers=cpu)
        runs[ORT_BASIC] = basic.predict
    return runs


def time_backends(
    runs: dict[str, Callable[[np.ndarray], np.ndarray]], image: np.ndarray, args
) -> tuple[dict[str, tuple[list[float], list[float]]], float]:
    """Wall and CPU seconds per batch of each backend (interleaved), max |torch − ORT|."""
    outputs = {}
    for name, run in runs.items():
        for _ in range(args.warmup):
            outputs[name] = run(image)
    seconds: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            run(image)
            seconds[name][0].append(time.perf_counter() - start)
            seconds[name][1].append(time.process_time() - cpu_start)
    return seconds, float(np.abs(outputs[BASELINE] - outputs[ORT]).max())


def machine(args: argparse.Namespace) -> list[str]:
    import onnx
    import onnxruntime
    import torch

    import geonoise

    return [
        f"- CPU: {cpu_name()}; {os.cpu_count()} logical cores; both backends use {args.threads} "
        "intra-op threads",
        f"- OS: {platform.platform()}",
        f"- Load average (1 min) at start {args.load_start:.2f}, at end "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other processes share the "
        "machine where it exceeds ~1)",
        f"- geonoise {geonoise.__version__}, Python {platform.python_version()}, torch "
        f"{torch.__version__} (oneDNN {torch.backends.mkldnn.is_available()}), onnxruntime "
        f"{onnxruntime.__version__}, onnx {onnx.__version__}, numpy {np.__version__}",
    ]


def table(cases: list[Case]) -> list[str]:
    base = {(c.preset, c.size): c.median for c in cases if c.backend == BASELINE}
    lines = [
        "| preset | input (N×C×H×W) | backend | s / batch (median) | fastest | MP/s "
        "| torch / this | CPU s / batch |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        ratio = base[(c.preset, c.size)] / c.median
        lines.append(
            f"| {c.preset} | {c.batch}×3×{c.size}×{c.size} | {c.backend} | {c.median:.3f} "
            f"| {min(c.seconds):.3f} | {c.megapixels_per_s:.2f} | {ratio:.2f}× "
            f"| {statistics.median(c.cpu_seconds):.2f} |"
        )
    return lines


def verdict(cases: list[Case]) -> list[str]:
    """Whether ORT beats torch by :data:`TARGET` (medians) everywhere; what the variants show."""
    by = {(c.preset, c.size, c.backend): c for c in cases}
    lines, passed = [], True
    for preset, size, backend in by:
        if backend != ORT:
            continue
        torch_case, ort_case = by[(preset, size, BASELINE)], by[(preset, size, ORT)]
        ratio = paired_ratio(torch_case, ort_case)
        passed &= ratio >= TARGET
        text = (
            f"- {preset}, {size}²: onnxruntime is {ratio:.2f}× faster than torch "
            f"(ratio of medians {torch_case.median / ort_case.median:.2f}×, of fastest runs "
            f"{min(torch_case.seconds) / min(ort_case.seconds):.2f}×)"
        )
        if (preset, size, CONTIGUOUS) in by:
            contiguous, basic = by[(preset, size, CONTIGUOUS)], by[(preset, size, ORT_BASIC)]
            text += (
                f"; channels-last makes torch {contiguous.median / torch_case.median:.2f}× "
                f"faster than contiguous; ORT's full optimisation (conv/batch-norm/activation "
                f"fusion, NCHWc layouts) is {basic.median / ort_case.median:.2f}× faster than "
                "its basic level"
            )
        lines.append(text)
    word = "MET" if passed else "NOT MET"
    return [
        f"**Target ≥ {TARGET}× (torch / onnxruntime, median of the per-repeat ratios): {word}.**",
        "",
        "The per-repeat ratio divides each torch run by the onnxruntime run right after it, so "
        "both saw about the same load from other processes; its median is the verdict's "
        "measure. The medians and fastest runs in the table are shown as measured.",
        "",
        *lines,
    ]


def paired_ratio(torch_case: Case, ort_case: Case) -> float:
    """Median over repeats of torch seconds / onnxruntime seconds of the same repeat."""
    pairs = zip(torch_case.seconds, ort_case.seconds, strict=True)
    return statistics.median(t / o for t, o in pairs)


def report(cases: list[Case], checks: dict[str, str], args, total: float) -> str:
    command = "python benchmarks/bench_onnx.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            "# ONNX Runtime vs eager PyTorch (NRN-RSSEG inference on CPU)",
            "",
            "Written by `benchmarks/bench_onnx.py`; rerun it to refresh this page.",
            "",
            "## Machine",
            "",
            *machine(args),
            "",
            "## Command",
            "",
            f"`{command.strip()}` ({args.warmup} warm-up runs, then {args.repeats} timed runs "
            f"per backend, interleaved; {total:.0f} s in all)",
            "",
            "## Results",
            "",
            *table(cases),
            "",
            "Agreement (max |probability difference|, torch vs onnxruntime): "
            + "; ".join(f"{k}: {v}" for k, v in checks.items()),
            "",
            "## Verdict",
            "",
            *verdict(cases),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_start = os.getloadavg()[0]
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    cases, checks = [], {}
    rng = np.random.default_rng(0)
    for preset in args.presets:
        checkpoint, onnx_path, export_diff = make_model_files(preset)
        runs = backends(checkpoint, onnx_path, args.threads, args.variants)
        for size in args.sizes:
            print(f"{preset} {size}² …", file=sys.stderr, flush=True)
            image = rng.uniform(0, 255, (args.batch, 3, size, size)).astype(np.float32)
            seconds, diff = time_backends(runs, image, args)
            cases += [Case(preset, size, name, *s, args.batch) for name, s in seconds.items()]
            checks[f"{preset} {size}²"] = f"{diff:.1e}"
        checks[f"{preset} export check"] = f"{export_diff:.1e}"
    order = [BASELINE, CONTIGUOUS, ORT, ORT_BASIC]
    cases.sort(key=lambda c: (args.presets.index(c.preset), c.size, order.index(c.backend)))
    text = report(cases, checks, args, time.perf_counter() - started)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
