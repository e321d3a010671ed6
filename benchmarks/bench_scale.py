"""Benchmark ``geonoise detect`` and ``geonoise vectorize`` on a scene of 400+ megapixels.

The scene is a GDAL VRT mosaic that repeats ``sample_data/target/scene.tif``
(1024² pixels, 0.5 m, EPSG:32632) ``--repeat`` times per side on one
geotransform (default 20 × 20: 20480² = 419 MP); its noisy labels are tiled the
same way. The model is an *untrained* two-class NRN-RSSEG (``tiny`` preset,
random weights, exported to ONNX): the weakest model there is, so that its
noise map has very many regions above the threshold, the case where
``vectorize`` memory used to grow with the number of polygons.

Stages, each measured with ``/usr/bin/time -v`` (peak RSS of the largest process
in the tree) while the process tree is polled for each process's high-water
mark (``VmHWM``: the parent's, and the largest worker's), cached between runs
in ``benchmarks/_work/scale/results.json`` so a stage can be rerun alone:

* ``detect``: ``geonoise detect --no-tta --no-quicklook`` on the VRT;
* ``mask``: the noise map thresholded at ``--threshold`` into a uint8 0/1 mask
  (setup for GDAL, not timed against anything);
* ``vectorize``: ``geonoise vectorize`` on the noise map (with its class
  companion) with ``--jobs``;
* ``gdal``: ``gdal_polygonize.py mask.tif -mask mask.tif -f GPKG`` (the
  polygons of the same regions, one DN field, one process).

Targets: detect and vectorize each under 2 GiB peak RSS at 400 MP; vectorize no
slower than gdal_polygonize.py on the same mask. Writes ``benchmarks/scale.md``::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py --jobs 2
    .venv/bin/python benchmarks/bench_scale.py --stages vectorize gdal --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_detect import BATCH, OVERLAP, WINDOW  # noqa: E402
from machine import cpu_name, run_measured  # noqa: E402

ROOT = HERE.parent
WORK = HERE / "_work" / "scale"
REPORT = HERE / "scale.md"
RESULTS = WORK / "results.json"
GEONOISE = ROOT / ".venv" / "bin" / "geonoise"
SAMPLE = ROOT / "sample_data" / "target"
STAGES = ("detect", "mask", "vectorize", "gdal")
GIB = 2**30


# --------------------------------------------------------------------------- inputs


def mosaic(source: Path, target: Path, repeat: int) -> Path:
    """A VRT that tiles ``source`` ``repeat`` × ``repeat`` times on one geotransform."""
    import rasterio

    with rasterio.open(source) as src:
        width, height, transform = src.width, src.height, src.transform
        bands = [(src.dtypes[i], src.nodata) for i in range(src.count)]
        crs_wkt = src.crs.to_wkt()
        block = src.block_shapes[0]
    gt = ", ".join(repr(v) for v in transform.to_gdal())
    lines = [
        f'<VRTDataset rasterXSize="{width * repeat}" rasterYSize="{height * repeat}">',
        f"  <SRS>{crs_wkt.replace('&', '&amp;').replace('<', '&lt;')}</SRS>",
        f"  <GeoTransform>{gt}</GeoTransform>",
    ]
    gdal_types = {"uint8": "Byte", "float32": "Float32", "uint16": "UInt16"}
    for index, (dtype, nodata) in enumerate(bands, start=1):
        lines.append(f'  <VRTRasterBand dataType="{gdal_types[dtype]}" band="{index}">')
        if nodata is not None:
            lines.append(f"    <NoDataValue>{nodata:g}</NoDataValue>")
        for row in range(repeat):
            for col in range(repeat):
                lines += [
                    "    <SimpleSource>",
                    f"      <SourceFilename>{source.resolve()}</SourceFilename>",
                    f"      <SourceBand>{index}</SourceBand>",
                    f'      <SourceProperties RasterXSize="{width}" RasterYSize="{height}" '
                    f'DataType="{gdal_types[dtype]}" BlockXSize="{block[1]}" '
                    f'BlockYSize="{block[0]}"/>',
                    f'      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
                    f'      <DstRect xOff="{col * width}" yOff="{row * height}" '
                    f'xSize="{width}" ySize="{height}"/>',
                    "    </SimpleSource>",
                ]
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def make_model() -> Path:
    """An untrained two-class ``tiny`` NRN-RSSEG exported to ONNX (cached)."""
    import torch

    from geonoise.models.checkpoint import ModelMeta, save_model
    from geonoise.models.export import export_onnx
    from geonoise.models.nrn_rsseg import NRNRSSEG, model_config

    onnx_path = WORK / "tiny_untrained_k2.onnx"
    if onnx_path.exists():
        return onnx_path
    WORK.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = model_config("tiny", num_classes=2)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["background", "building"],
        band_mean=[128.0] * 3,
        band_std=[64.0] * 3,
        tile_size=WINDOW,
    )
    checkpoint = WORK / "tiny_untrained_k2.ckpt"
    save_model(checkpoint, NRNRSSEG(config).eval(), meta)
    export_onnx(checkpoint, onnx_path, overwrite=True)
    return onnx_path


def threshold_mask(noise: Path, mask: Path, threshold: float) -> float:
    """Write ``noise >= threshold`` (valid pixels) as a uint8 0/1 GeoTIFF; the share of 1s."""
    import numpy as np
    import rasterio

    with rasterio.open(noise) as src:
        profile = src.profile | {
            "driver": "GTiff", "dtype": "uint8", "count": 1, "nodata": None,
            "compress": "deflate", "tiled": True, "blockxsize": 512, "blockysize": 512,
            "BIGTIFF": "IF_SAFER",
        }  # fmt: skip
        above = 0
        with rasterio.open(mask, "w", **profile) as dst:
            for _, window in src.block_windows(1):
                score = src.read(1, window=window, masked=True)
                suspect = (score >= threshold).filled(False).astype(np.uint8)
                above += int(suspect.sum())
                dst.write(suspect, 1, window=window)
        return above / (src.width * src.height)


# --------------------------------------------------------------------------- measuring


def _hwm_kib(pid: int) -> int:
    """The high-water mark of a process's resident set (``VmHWM``), KiB; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) if found else 0


def measure(command: list[str], log: Path, interval: float = 0.2) -> dict[str, float]:
    """Run ``command`` under GNU time; wall s, CPU s, peak RSS of the tree, parent and worker.

    ``time -v`` gives the largest peak RSS of any process in the tree (the kernel's
    ``ru_maxrss`` over the waited-for children). Polling ``/proc/PID/status`` gives
    each process's own high-water mark, so the parent's and the largest worker's
    are told apart (a worker's is read while it lives, so it may miss its last
    fraction of a second).
    """
    import psutil

    peaks: dict[int, int] = {}

    def sample(root: psutil.Process) -> None:
        for p in root.children(recursive=True):
            peaks[p.pid] = max(peaks.get(p.pid, 0), _hwm_kib(p.pid))

    timed = run_measured(command, log, sample, interval=interval)
    maxrss = timed.maxrss_kib
    # The tree's first process is the command itself (time's child); the rest are workers.
    ordered = sorted(peaks)
    parent = peaks[ordered[0]] if ordered else maxrss
    workers = [peaks[pid] for pid in ordered[1:]]
    return {
        "seconds": timed.seconds,
        "cpu": timed.cpu,
        "maxrss_mib": maxrss / 1024,
        "parent_mib": parent / 1024,
        "worker_mib": max(workers) / 1024 if workers else 0.0,
        "workers": len(workers),
    }


def count_features(path: Path, layer: str | None = None) -> int:
    import pyogrio

    return int(pyogrio.read_info(path, layer=layer)["features"])


# --------------------------------------------------------------------------- stages


def paths() -> dict[str, Path]:
    return {
        "scene": WORK / "scene.vrt",
        "labels": WORK / "labels.vrt",
        "noise": WORK / "out" / "noise.tif",
        "mask": WORK / "out" / "mask.tif",
        "polygons": WORK / "out" / "polygons.gpkg",
        "gdal": WORK / "out" / "gdal.gpkg",
    }


def commands(p: dict[str, Path], model: Path, args: argparse.Namespace) -> dict[str, list[str]]:
    detect = [
        str(GEONOISE), "-q", "detect", str(p["scene"]), "-l", str(p["labels"]), "-m", str(model),
        "-o", str(p["noise"]), "--window", str(WINDOW), "--overlap", str(OVERLAP),
        "--batch-size", str(BATCH), "--no-tta", "--no-quicklook", "--overwrite",
    ]  # fmt: skip
    vectorize = [
        str(GEONOISE), "-q", "vectorize", str(p["noise"]), "-o", str(p["polygons"]),
        "--threshold", str(args.threshold), "--jobs", str(args.jobs), "--overwrite",
    ]  # fmt: skip
    gdal = [
        args.gdal_polygonize, "-q", str(p["mask"]), "-mask", str(p["mask"]), "-f", "GPKG",
        str(p["gdal"]),
    ]  # fmt: skip
    return {"detect": detect, "vectorize": vectorize, "gdal": gdal}


def run_stage(stage: str, p: dict[str, Path], cmds: dict[str, list[str]], args) -> dict:
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if stage == "mask":
        started = time.perf_counter()
        share = threshold_mask(p["noise"], p["mask"], args.threshold)
        return {"seconds": time.perf_counter() - started, "share": share}
    if stage == "gdal":
        p["gdal"].unlink(missing_ok=True)
    p["noise"].parent.mkdir(parents=True, exist_ok=True)
    result = measure(cmds[stage], logs / f"{stage}.log")
    result["command"] = shlex.join(cmds[stage]).replace(str(ROOT) + "/", "")
    if stage == "vectorize":
        result["polygons"] = count_features(p["polygons"], "noise")
    if stage == "gdal":
        result["polygons"] = count_features(p["gdal"])
    return result


# --------------------------------------------------------------------------- report


def _mib(value: float) -> str:
    return f"{value:,.0f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(results: dict, args: argparse.Namespace) -> str:
    size = results["size"]
    rows = [
        "| step | wall s | CPU s | peak RSS MiB (time -v) | parent MiB | largest worker MiB "
        "| polygons |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"detect": "geonoise detect --no-tta", "vectorize": "geonoise vectorize",
             "gdal": "gdal_polygonize.py (mask given)"}  # fmt: skip
    for stage, name in names.items():
        r = results.get(stage)
        if r is None:
            continue
        worker = f"{_mib(r['worker_mib'])} ({r['workers']})" if r["workers"] else "–"
        rows.append(
            f"| {name} | {r['seconds']:.0f} | {r['cpu']:.0f} | {_mib(r['maxrss_mib'])} "
            f"| {_mib(r['parent_mib'])} | {worker} | {r.get('polygons', '–')} |"
        )
    verdict = []
    for stage in ("detect", "vectorize"):
        if stage in results:
            peak = results[stage]["maxrss_mib"]
            verdict.append(
                f"- {stage} peak RSS under 2 GiB: {_met(peak < 2048)} ({_mib(peak)} MiB)."
            )
    if "vectorize" in results and "gdal" in results:
        geo, gdal = results["vectorize"]["seconds"], results["gdal"]["seconds"]
        verdict.append(
            f"- vectorize no slower than gdal_polygonize.py: {_met(geo <= gdal)} "
            f"({geo:.0f} s vs {gdal:.0f} s, {gdal / geo:.2f}× GDAL's speed)."
        )
    share = results.get("mask", {}).get("share")
    load = results.get("load", [])
    return "\n".join(
        [
            "# `detect` and `vectorize` at scale (400+ MP)",
            "",
            "Generated by `benchmarks/bench_scale.py` (overwritten on each run). The scene is a "
            f"VRT mosaic of `sample_data/target/scene.tif` tiled {args.repeat} × {args.repeat} "
            f"({size}² = {size * size / 1e6:.0f} MP, 0.5 m, EPSG:32632) with its noisy labels "
            "tiled alike; the model an untrained two-class `tiny` NRN-RSSEG exported to ONNX "
            f"(window {WINDOW}, overlap {OVERLAP}, batch {BATCH}). "
            + (
                f"{share:.1%} of the noise map's pixels score at least {args.threshold}."
                if share is not None
                else ""
            ),
            "",
            "Peak RSS (time -v): the largest resident set of any process of the command "
            "(GNU time's Maximum resident set size). Parent / largest worker: each process's "
            "own high-water mark (`VmHWM`, polled every 0.2 s); a forked worker's includes the "
            "pages it shares with the parent at the fork.",
            "",
            *rows,
            "",
            "## Verdict",
            "",
            *verdict,
            "",
            "## Machine",
            "",
            f"- CPU: {cpu_name()}, {os.cpu_count()} cores; "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB RAM; "
            "shared with other jobs",
            f"- load average (1 min) at the stages' starts: {', '.join(f'{x:.1f}' for x in load)}",
            f"- Python {platform.python_version()}, environment `OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}`",
            "",
            "## Commands",
            "",
            "```",
            "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py "
            f"--repeat {args.repeat} --jobs {args.jobs} --threshold {args.threshold}",
            *(results[s]["command"] for s in names if s in results),
            "```",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="copies of the scene per side")
    parser.add_argument("--jobs", type=int, default=2, help="vectorize --jobs")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--gdal-polygonize", default=shutil.which("gdal_polygonize.py"))
    args = parser.parse_args(argv)
    if "gdal" in args.stages and not args.gdal_polygonize:
        print("gdal_polygonize.py not found (apt-get install gdal-bin)", file=sys.stderr)
        return 1
    p = paths()
    mosaic(SAMPLE / "scene.tif", p["scene"], args.repeat)
    mosaic(SAMPLE / "labels_noisy.tif", p["labels"], args.repeat)
    cmds = commands(p, make_model(), args)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if results.get("repeat") != args.repeat:
        results = {"repeat": args.repeat}
    results["size"] = 1024 * args.repeat
    load = results.setdefault("load", [])
    for stage in args.stages:
        load.append(os.getloadavg()[0])
        results[stage] = run_stage(stage, p, cmds, args)
        print(f"{stage}: {json.dumps(results[stage])}", flush=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    REPORT.write_text(report(results, args), encoding="utf-8")
    print(REPORT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
