"""Benchmark ``geonoise tile`` against GDAL's ``gdal_retile.py`` on the same scenes.

For each scene size (default 2048² and 8192² pixels: 4x per side, 16x the
pixels) it times, in one run and on the same cached GeoTIFF scene, with the
same tile size, overlap and creation options:

* ``gdal_retile.py`` (Debian ``gdal-bin`` / ``python3-gdal``),
* ``geonoise tile`` with the image only,
* ``geonoise tile`` with a label raster on the same grid (how it is used),

and records wall-clock seconds (fastest and median of ``--repeats`` runs, the
tools interleaved), CPU seconds, the peak resident memory of each run, the
tiles each wrote and the machine it ran on, as a Markdown report in
``benchmarks/tile.md``.

Peak memory is what ``/usr/bin/time -v`` reports as "Maximum resident set
size" (the kernel's ``ru_maxrss`` of the command), cross-checked by polling the
RSS of the whole process tree with psutil (the only measure where ``time`` is
missing).

Run it with the project's virtualenv (``make bench-tile`` does this and installs
``gdal-bin`` first where it is missing)::

    .venv/bin/python benchmarks/bench_tile.py
    .venv/bin/python benchmarks/bench_tile.py --sizes 1024 4096 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import cpu_name, run_measured  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV = dict(os.environ)  # before rasterio is imported: what the child processes get

#: Bump when the scene recipe changes, so cached scenes are regenerated.
SCENE_VERSION = "1"
#: UTM zone 33N, 0.5 m pixels.
CRS = "EPSG:32633"
PIXEL = 0.5
ORIGIN = (500_000.0, 5_800_000.0)
#: Largest peak-RSS growth between the scene sizes that counts as "independent of size".
RSS_TOLERANCE = 1.25
STRIP = 256  # rows generated and written at a time (one row of 256-pixel blocks)

GDAL_MISSING = """\
gdal_retile.py was not found, so there is nothing to compare geonoise tile with.
Install GDAL's command-line tools and Python utilities, then rerun:

    make bench-tile                              # installs them with apt-get, then runs this
    sudo apt-get install gdal-bin python3-gdal   # Debian / Ubuntu

or pass its path with --gdal-retile PATH. (GNU time, Debian package `time`, is
optional: it gives peak RSS and CPU seconds; without it RSS is polled with psutil.)"""


# --------------------------------------------------------------------------- scenes


def _scene_paths(work: Path, size: int) -> tuple[Path, Path]:
    return work / f"scene_{size}.tif", work / f"labels_{size}.tif"


def _is_current(path: Path) -> bool:
    import rasterio

    if not path.exists():
        return False
    try:
        with rasterio.open(path) as ds:
            return ds.tags().get("BENCH_SCENE_VERSION") == SCENE_VERSION
    except rasterio.errors.RasterioIOError:
        return False


def _strip(size: int, row0: int, rows: int, seed: int):
    """RGB pixels and class ids of rows ``row0 .. row0+rows`` of the synthetic scene.

    A smooth "terrain" field (sums of long-wavelength plane waves, computed
    separably so any strip matches its neighbours), fields and water where the
    field is low, a road grid, buildings in hashed 48-pixel parcels, then a
    little sensor noise. Classes: 0 ground/vegetation, 1 building, 2 road, 3 water.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.arange(size, dtype=np.float32)
    y = np.arange(row0, row0 + rows, dtype=np.float32)
    waves = np.random.default_rng(12345).uniform(size=(6, 3)).astype(np.float32)
    field_ = np.zeros((rows, size), np.float32)
    for fx, fy, phase in waves:
        wavelength = 300 + 1700 * fx
        angle = 2 * np.pi * fy
        kx = np.float32(2 * np.pi / wavelength * np.cos(angle))
        ky = np.float32(2 * np.pi / wavelength * np.sin(angle))
        a, b = ky * y + np.float32(2 * np.pi * phase), kx * x
        field_ += np.outer(np.sin(a), np.cos(b)) + np.outer(np.cos(a), np.sin(b))
    field_ /= 3.0  # roughly -1 .. 1

    xi = np.arange(size, dtype=np.int64)[None, :]
    yi = np.arange(row0, row0 + rows, dtype=np.int64)[:, None]
    cell_hash = ((xi // 48) * 73856093 ^ (yi // 48) * 19349663) % 1009
    in_parcel = ((xi % 48) >= 7) & ((xi % 48) < 41) & ((yi % 48) >= 9) & ((yi % 48) < 39)
    road = ((xi % 384) < 10) | ((yi % 384) < 10)
    water = field_ < -0.55
    building = in_parcel & (cell_hash < 330) & ~road & ~water & (field_ > -0.35)

    classes = np.zeros((rows, size), np.uint8)
    classes[building] = 1
    classes[road & ~water] = 2
    classes[water] = 3

    rgb = np.empty((3, rows, size), np.float32)
    ground = 0.5 + 0.5 * field_
    rgb[0] = 70 + 60 * ground
    rgb[1] = 95 + 55 * ground
    rgb[2] = 55 + 35 * ground
    roof = (cell_hash % 7).astype(np.float32)
    for band, (base, step) in enumerate(((150, 12), (120, 8), (110, 10))):
        np.copyto(rgb[band], base + step * roof, where=building)
    for band, value in enumerate((128, 128, 124)):
        rgb[band][classes == 2] = value
        rgb[band][water] = (35, 60, 95)[band] + 10 * field_[water]
    rgb += rng.standard_normal(rgb.shape, dtype=np.float32) * 5
    return np.clip(rgb, 0, 255).astype(np.uint8), classes


def make_scene(work: Path, size: int) -> tuple[Path, Path]:
    """Write (once) the ``size``² RGB scene and its label raster, strip by strip."""
    import rasterio
    from rasterio.transform import from_origin

    scene_path, label_path = _scene_paths(work, size)
    if _is_current(scene_path) and _is_current(label_path):
        return scene_path, label_path
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating {size}x{size} scene and labels in {work} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    common = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "crs": CRS,
        "transform": from_origin(*ORIGIN, PIXEL, PIXEL),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
    }
    tmp_scene = scene_path.with_suffix(".tif.partial")
    tmp_labels = label_path.with_suffix(".tif.partial")
    with (
        rasterio.open(tmp_scene, "w", count=3, dtype="uint8", interleave="pixel", **common) as img,
        rasterio.open(tmp_labels, "w", count=1, dtype="uint8", nodata=255, **common) as lab,
    ):
        img.colorinterp = [
            rasterio.enums.ColorInterp.red,
            rasterio.enums.ColorInterp.green,
            rasterio.enums.ColorInterp.blue,
        ]
        lab.set_band_description(1, "class id")
        for row0 in range(0, size, STRIP):
            rows = min(STRIP, size - row0)
            rgb, classes = _strip(size, row0, rows, seed=row0)
            window = rasterio.windows.Window(0, row0, size, rows)
            img.write(rgb, window=window)
            lab.write(classes, 1, window=window)
        img.update_tags(BENCH_SCENE_VERSION=SCENE_VERSION)
        lab.update_tags(BENCH_SCENE_VERSION=SCENE_VERSION)
    os.replace(tmp_scene, scene_path)
    os.replace(tmp_labels, label_path)
    print(
        f"  done in {time.perf_counter() - started:.1f} s "
        f"({scene_path.stat().st_size / 2**20:.1f} MiB scene)",
        file=sys.stderr,
        flush=True,
    )
    return scene_path, label_path


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    seconds: float  # wall clock
    cpu: float | None  # user + system CPU seconds (from GNU time; None without it)
    maxrss_mb: float  # peak RSS: /usr/bin/time -v, else the polled value
    polled_mb: float  # largest polled RSS sum of the process tree (psutil)


@dataclass
class Case:
    size: int
    tool: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    tiles: int = 0
    labels: int = 0
    output_mb: float = 0.0

    @property
    def seconds(self) -> float:
        """Fastest wall clock: the least disturbed by other load on the machine."""
        return min(r.seconds for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def cpu(self) -> float | None:
        times = [r.cpu for r in self.runs if r.cpu is not None]
        return min(times) if times else None

    @property
    def peak_mb(self) -> float:
        return max(r.maxrss_mb for r in self.runs)

    @property
    def polled_mb(self) -> float:
        return max(r.polled_mb for r in self.runs)


def measure(command: list[str], log: Path, interval: float, time_v: str | None) -> Run:
    """Run ``command``; its wall time, peak RSS and the largest polled RSS of its tree.

    The peak comes from ``/usr/bin/time -v`` (see :func:`machine.run_measured`);
    without ``time`` the polled value is used.
    """
    import psutil

    peak = [0]

    def sample(root: psutil.Process) -> None:
        total = 0
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        peak[0] = max(peak[0], total)

    timed = run_measured(command, log, sample, interval=interval, time_v=time_v, env=ENV)
    polled = peak[0] / 2**20
    maxrss = polled if timed.maxrss_kib is None else timed.maxrss_kib / 1024
    return Run(timed.seconds, timed.cpu, maxrss, polled)


def _tifs(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tif")) if directory.is_dir() else []


def _bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


# --------------------------------------------------------------------------- report


def _cmd(text: str) -> str:
    try:
        return subprocess.run(
            shlex.split(text), capture_output=True, text=True, env=ENV, timeout=60
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(gdal_retile: str, args: argparse.Namespace) -> list[str]:
    import numpy
    import psutil
    import rasterio

    cpu = cpu_name()
    try:
        import geonoise

        geonoise_version = geonoise.__version__
    except ImportError:
        geonoise_version = "?"
    retile_python = Path(gdal_retile).read_text(errors="replace").splitlines()[0].lstrip("#! ")
    system_gdal = _cmd(f'{retile_python} -c "from osgeo import gdal; print(gdal.__version__)"')
    return [
        f"- CPU: {cpu}; {os.cpu_count()} logical cores "
        f"({psutil.cpu_count(logical=False)} physical); "
        f"RAM {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- OS: {platform.platform()}",
        f"- Load average (1 min) at start {args.load_start:.2f}, at end {os.getloadavg()[0]:.2f}"
        f" on {os.cpu_count()} cores (other processes share the machine where it exceeds ~1)",
        f"- geonoise {geonoise_version}, Python {platform.python_version()}, "
        f"rasterio {rasterio.__version__} (bundled GDAL {rasterio.__gdal_version__}), "
        f"numpy {numpy.__version__}",
        f"- gdal_retile.py: `{gdal_retile}` run by `{retile_python}` with system GDAL "
        f"{system_gdal} (`{_cmd('gdalinfo --version')}`)",
    ]


def _fmt_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def report(cases: list[Case], args: argparse.Namespace, gdal_retile: str, total: float) -> str:
    sizes = sorted({c.size for c in cases})
    by = {(c.size, c.tool): c for c in cases}
    smallest = sizes[0]
    lines = [
        "# `geonoise tile` vs `gdal_retile.py`",
        "",
        "Generated by `benchmarks/bench_tile.py` (overwritten on each run). Synthetic RGB uint8 "
        f"scenes in {CRS} at {PIXEL} m, tiled 256×256 DEFLATE (predictor 2), smooth structure "
        "(terrain, fields, water, roads, buildings) plus sensor noise; a uint8 label raster "
        "(4 classes) on the same grid. "
        f"Tiles of {args.tile_size} px with {args.overlap} px overlap, DEFLATE with "
        "predictor 2, 256-px blocks, for both tools.",
        "",
        f"Seconds: the fastest wall clock of {args.repeats} run(s) (the median in brackets), "
        "the tools interleaved on the same file, which is in the page cache; the fastest run "
        "is the one least disturbed by other load on the machine (load averages under "
        "*Machine*). CPU s: user + system CPU seconds of the fastest-CPU run (from GNU time), a "
        "check that does not depend on that load. Peak RSS: from "
        f"{args.rss_source}, the largest of the runs; psutil polling of the process tree "
        f"every {args.poll * 1000:.0f} ms is in *Details*. "
        "*Speed-up* is gdal_retile.py seconds / this row's seconds (> 1: geonoise faster). "
        f"*RSS growth* is this row's peak RSS / the same tool's peak RSS on the {smallest}² scene.",
        "",
        "| scene | pixels | tool | tiles written | seconds | CPU s | speed-up vs gdal_retile "
        "(CPU) | peak RSS MiB | RSS growth | output MiB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        gdal = by.get((size, "gdal_retile.py"))
        for tool in ("gdal_retile.py", "geonoise tile", "geonoise tile + labels"):
            case = by.get((size, tool))
            if case is None:
                continue
            tiles = f"{case.tiles}" + (f" + {case.labels} labels" if case.labels else "")
            speed = (
                None if tool == "gdal_retile.py" or gdal is None else gdal.seconds / case.seconds
            )
            cpu_speed = None
            if speed is not None and gdal is not None and gdal.cpu and case.cpu:
                cpu_speed = gdal.cpu / case.cpu
            base = by.get((smallest, tool))
            growth = None if size == smallest or base is None else case.peak_mb / base.peak_mb
            cpu = "" if case.cpu is None else f"{case.cpu:.2f}"
            speeds = _fmt_ratio(speed) + (f" ({_fmt_ratio(cpu_speed)})" if cpu_speed else "")
            lines.append(
                f"| {size}×{size} | {size * size / 1e6:.1f} M | {tool} | {tiles} "
                f"| {case.seconds:.2f} ({case.median:.2f}) | {cpu} | {speeds} "
                f"| {case.peak_mb:.0f} | {_fmt_ratio(growth)} | {case.output_mb:.1f} |"
            )
    lines += ["", "## Targets", ""]
    for size in sizes:
        gdal, geo = by.get((size, "gdal_retile.py")), by.get((size, "geonoise tile"))
        if gdal and geo:
            ratio = gdal.seconds / geo.seconds
            met = "MET" if ratio >= 1 else "NOT MET"
            cpu = ""
            if gdal.cpu and geo.cpu:
                cpu = f"; CPU {geo.cpu:.2f} s vs {gdal.cpu:.2f} s, ratio {gdal.cpu / geo.cpu:.2f}"
            lines.append(
                f"- Speed, {size}² scene: {met} — geonoise tile {geo.seconds:.2f} s, "
                f"gdal_retile.py {gdal.seconds:.2f} s (ratio {ratio:.2f}; target ≥ 1{cpu})."
            )
    if len(sizes) > 1:
        largest = sizes[-1]
        pixels = (largest / smallest) ** 2
        for tool in ("geonoise tile", "geonoise tile + labels", "gdal_retile.py"):
            small, big = by.get((smallest, tool)), by.get((largest, tool))
            if small and big:
                growth = big.peak_mb / small.peak_mb
                met = (
                    ""
                    if tool == "gdal_retile.py"
                    else "MET — "
                    if growth <= RSS_TOLERANCE
                    else "NOT MET — "
                )
                lines.append(
                    f"- Peak memory, {tool}: {met}{small.peak_mb:.0f} → "
                    f"{big.peak_mb:.0f} MiB ({growth:.2f}×) for {pixels:.0f}× the "
                    f"pixels (target for geonoise: ≤ {RSS_TOLERANCE}×)."
                )
    edge = []
    for size in sizes:
        stride = args.tile_size - args.overlap
        rest = (size - args.tile_size) % stride if size > args.tile_size else 0
        edge.append(
            f"{size}²: "
            + (
                f"the last column and row of gdal_retile.py's tiles are {rest} px wide/high"
                if rest
                else "identical grids"
            )
        )
    lines += [
        "",
        "## What differs between the tools",
        "",
        "- **Edge tiles.** geonoise shifts the last tile of each row and column inward so every "
        "tile is full size (it overlaps its neighbour more); gdal_retile.py writes partial tiles "
        "at the right and bottom edges where the stride does not divide the scene "
        f"({'; '.join(edge)}). The *tiles written* column counts the GeoTIFFs each produced.",
        "- **Index.** geonoise also writes `tiles.gpkg` (footprints, windows, valid and class "
        "fractions) and checks each window's valid fraction; gdal_retile.py writes no index "
        "without `-tileIndex` (it keeps an in-memory one).",
        "- **Atomic output.** geonoise writes into a temporary directory and renames it into "
        "place; gdal_retile.py writes each tile as `NAME.tmp` and renames it.",
        "- **I/O.** geonoise reads each window with all bands at once (rasterio) and writes each "
        "tile in one call; gdal_retile.py opens the source through a VRT per tile and copies it "
        "band by band.",
        "- **GDAL builds.** geonoise uses the GDAL bundled in the rasterio wheel, gdal_retile.py "
        "the system GDAL (versions below); their DEFLATE implementations may differ "
        "(compare the *output MiB* column).",
        "- **Labels row.** `geonoise tile + labels` does more work (a second raster read, label "
        "tiles, class counts); its speed-up column still compares it with gdal_retile.py "
        "tiling the image only.",
        "",
        "## Machine",
        "",
        *machine(gdal_retile, args),
        "",
        "## Commands",
        "",
        "```",
        "# this report",
        _relative(shlex.join([sys.executable, *sys.argv])),
    ]
    for size in sizes:
        for tool in ("gdal_retile.py", "geonoise tile", "geonoise tile + labels"):
            case = by.get((size, tool))
            if case is not None:
                lines.append(_relative(shlex.join(case.command)))
    lines += [
        "```",
        "",
        "## Details",
        "",
        "| scene | tool | run | seconds | CPU s | peak RSS MiB | polled tree RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        for i, run in enumerate(case.runs, start=1):
            lines.append(
                f"| {case.size}² | {case.tool} | {i} | {run.seconds:.2f} "
                f"| {'' if run.cpu is None else f'{run.cpu:.2f}'} "
                f"| {run.maxrss_mb:.0f} | {run.polled_mb:.0f} |"
            )
    lines += ["", f"Whole benchmark: {total:.0f} s.", ""]
    return "\n".join(lines)


def _relative(text: str) -> str:
    return text.replace(str(ROOT) + os.sep, "")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[2048, 8192],
        metavar="PX",
        help="scene edges in pixels (default: 2048 8192)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool and size (median)")
    parser.add_argument("--tile-size", type=int, default=256, help="tile edge (default 256)")
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap (default 32)")
    parser.add_argument("--no-labels", action="store_true", help="skip the geonoise+labels row")
    parser.add_argument(
        "--work",
        type=Path,
        default=HERE / "_work",
        help="cache for scenes and scratch outputs (default benchmarks/_work)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / "tile.md",
        help="Markdown report (default benchmarks/tile.md)",
    )
    parser.add_argument(
        "--geonoise",
        default=str(Path(sys.executable).with_name("geonoise")),
        help="geonoise executable (default: the one beside this python)",
    )
    parser.add_argument(
        "--gdal-retile",
        default=shutil.which("gdal_retile.py", path=ENV.get("PATH", os.defpath)),
        help="gdal_retile.py executable (default: from PATH)",
    )
    parser.add_argument("--poll", type=float, default=0.01, help="psutil polling interval, s")
    parser.add_argument(
        "--time",
        default="/usr/bin/time",
        metavar="PATH",
        help="GNU time for peak RSS (default /usr/bin/time; '' to poll only)",
    )
    args = parser.parse_args(argv)

    if not args.gdal_retile or not os.access(args.gdal_retile, os.X_OK):
        print(GDAL_MISSING, file=sys.stderr)
        return 1
    if not os.access(args.geonoise, os.X_OK):
        print(
            f"{args.geonoise} not found; install the project first (`make test` creates "
            ".venv, or pip install -e .) or pass --geonoise PATH",
            file=sys.stderr,
        )
        return 1

    time_v = args.time if args.time and os.access(args.time, os.X_OK) else None
    if time_v is None:
        print("GNU time not found: peak RSS comes from psutil polling only", file=sys.stderr)
    args.rss_source = (
        f"`{time_v} -v` (*Maximum resident set size*, the kernel's ru_maxrss of the command)"
        if time_v
        else "psutil polling (GNU time missing)"
    )
    args.load_start = os.getloadavg()[0]
    started = time.perf_counter()
    work = args.work.resolve()
    scenes = {size: make_scene(work, size) for size in sorted(args.sizes)}
    scratch = work / "out"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    tile, overlap = args.tile_size, args.overlap
    common = f"--size {tile} --overlap {overlap} --min-valid 0 --co COMPRESS=DEFLATE".split()
    gdal_options = (
        f"-q -ps {tile} {tile} -overlap {overlap} "
        "-co COMPRESS=DEFLATE -co PREDICTOR=2 -co TILED=YES"
    ).split()
    cases: list[Case] = []
    for size, (scene, labels) in scenes.items():
        gdal_out, geo_out, lab_out = (scratch / f"{size}_{n}" for n in ("gdal", "geo", "geolab"))
        geonoise = [args.geonoise, "-q", "tile", str(scene)]
        planned = [
            Case(
                size,
                "gdal_retile.py",
                [args.gdal_retile, *gdal_options, "-targetDir", str(gdal_out), str(scene)],
            ),
            Case(size, "geonoise tile", [*geonoise, "-o", str(geo_out), *common]),
        ]
        if not args.no_labels:
            planned.append(
                Case(
                    size,
                    "geonoise tile + labels",
                    [*geonoise, "-l", str(labels), "-o", str(lab_out), *common],
                )
            )
        for repeat in range(args.repeats):
            for case in planned:
                out = {"gdal_retile.py": gdal_out, "geonoise tile": geo_out}.get(case.tool, lab_out)
                shutil.rmtree(out, ignore_errors=True)
                if case.tool == "gdal_retile.py":
                    out.mkdir()
                run = measure(case.command, scratch / "last.log", args.poll, time_v)
                case.runs.append(run)
                print(
                    f"{size}² {case.tool:<24} run {repeat + 1}: {run.seconds:6.2f} s "
                    f"{run.maxrss_mb:6.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                images = _tifs(out / "images") if case.tool != "gdal_retile.py" else _tifs(out)
                label_tiles = _tifs(out / "labels")
                case.tiles, case.labels = len(images), len(label_tiles)
                extra = [out / "tiles.gpkg"] if (out / "tiles.gpkg").exists() else []
                case.output_mb = _bytes(images + label_tiles + extra) / 2**20
                shutil.rmtree(out, ignore_errors=True)
        cases += planned
    shutil.rmtree(scratch, ignore_errors=True)
    text = report(cases, args, args.gdal_retile, time.perf_counter() - started)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
