"""Detection quality on real scenes: does training learn the foreground, and is noise found?

For each real tree scene (``real_data.py``: NEON OSBS, SOAP and YELL at 0.1 m with
hand-drawn crown boxes) the west half is the teacher's clean source and the east
half the target, whose crown polygons get known noise (20 % of the objects: dropped,
added where there is no crown, shifted, dilated). Then, all with the defaults of
``geonoise`` except where a flag below says otherwise:

* **teacher**: ``train-teacher`` on the west half's clean crowns;
* **noisy-only**: the same net trained on the east half's noisy crowns alone;
* **student**: ``train-student`` on the noisy crowns, guided by the teacher
  (``--rounds 2``: round 1 is this student, round 2 is also scored);
* **cleanlab**: cleanlab's ``find_label_issues`` on the noisy-only net's probabilities;
* **prior**: no model: each pixel scores ``1 −`` the share of its given class.

Each noise map of the east half is scored with ``geonoise evaluate`` against the
truth of the noise (pixel AP, object recall of the changed crowns with
``vectorize``'s polygons, Kendall τ of 64-px tiles), and each model's prediction
with the IoU of the tree class against the *clean* east crowns. ``geonoise fix``
(defaults) corrects the noisy crowns from the student's map; the fixed crowns are
scored against the clean ones, and a student retrained on them against the default.
The Landsat subset, in three data types, checks bands and normalisation: a land-cover
teacher on its north half, per-class IoU on its south half.

    .venv/bin/python benchmarks/bench_real.py                 # every scene (about an hour)
    .venv/bin/python benchmarks/bench_real.py --scenes osbs --steps 300   # a quick look

Needs cleanlab (``pip install -e .[bench]``) and, once, the deepforest wheel
(``pip download``; see ``real_data.py``). Results: ``benchmarks/RESULTS_real.md`` and
``benchmarks/real.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from shapely import affinity
from shapely.geometry import box

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_data  # noqa: E402
from bench_quality import fix_cells, run  # noqa: E402  (a geonoise command, recorded)
from machine import cpu_name  # noqa: E402

ROOT = HERE.parent
WORK = HERE / "_work" / "real"
GEONOISE = str(ROOT / ".venv" / "bin" / "geonoise")
NOISE_RATE = 0.2
TILE, OVERLAP, EVAL_TILE = 128, 32, 64
METHODS = ("student", "student-round2", "noisy-only", "teacher", "cleanlab", "prior")
#: The methods the student is set against.
BASELINES = ("noisy-only", "teacher", "cleanlab", "prior")


# --------------------------------------------------------------------------- noise


def add_noise(
    crowns: gpd.GeoDataFrame, bounds: tuple[float, ...], rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Noisy crowns and the changed objects (``kind``, before/after) at :data:`NOISE_RATE`.

    Kinds in turn: missing (dropped), spurious (a crown-sized box where no crown is),
    shift (by 30-60 % of the crown's width), dilate (by 15-35 % of it).
    """
    kinds = ["missing", "spurious", "shift", "dilate"]
    count = max(4, round(NOISE_RATE * len(crowns)))
    plan = [kinds[i % len(kinds)] for i in range(count)]
    edits = [k for k in plan if k != "spurious"]
    picks = rng.choice(len(crowns), size=len(edits), replace=False)
    geometries = list(crowns.geometry)
    changed = []
    for index, kind in zip(picks, edits, strict=True):
        before = geometries[index]
        width = math.sqrt(before.area)
        if kind == "missing":
            after = None
        elif kind == "shift":
            distance, angle = rng.uniform(0.3, 0.6) * width, rng.uniform(0, 2 * math.pi)
            after = affinity.translate(
                before, distance * math.cos(angle), distance * math.sin(angle)
            )
        else:
            after = before.buffer(rng.uniform(0.15, 0.35) * width, join_style="mitre")
        geometries[index] = after
        changed.append({"kind": kind, "geometry": after if after is not None else before})
    sizes = np.sqrt(crowns.area.to_numpy())
    occupied = crowns.geometry.union_all().buffer(0.5)
    xmin, ymin, xmax, ymax = bounds
    for _ in range(200 * plan.count("spurious")):
        if sum(c["kind"] == "spurious" for c in changed) == plan.count("spurious"):
            break
        size = float(rng.choice(sizes))
        x, y = rng.uniform(xmin, xmax - size), rng.uniform(ymin, ymax - size)
        candidate = box(x, y, x + size, y + size)
        if not candidate.intersects(occupied):
            geometries.append(candidate)
            changed.append({"kind": "spurious", "geometry": candidate})
            occupied = occupied.union(candidate.buffer(0.5))
    kept = [g for g in geometries if g is not None]
    noisy = gpd.GeoDataFrame({"class": [1] * len(kept)}, geometry=kept, crs=crowns.crs)
    return noisy, gpd.GeoDataFrame(changed, crs=crowns.crs)


def target_files(scene: Path, crowns: Path, out: Path, seed: int) -> dict[str, Path]:
    """The east half's clean and noisy crowns, their rasters and the truth of the noise."""
    files = {k: out / f"{k}" for k in ("clean.gpkg", "noisy.gpkg", "objects.gpkg")}
    files |= {k: out / k for k in ("clean.tif", "noisy.tif", "truth.tif")}
    if all(p.exists() for p in files.values()):
        return files
    out.mkdir(parents=True, exist_ok=True)
    with rasterio.open(scene) as src:
        shape, transform, crs, bounds = src.shape, src.transform, src.crs, tuple(src.bounds)
    half = box(*bounds)
    clean = gpd.read_file(crowns)
    clean = clean[clean.intersects(half)].clip(half)
    clean = clean[clean.area > 0].reset_index(drop=True)
    noisy, objects = add_noise(clean, bounds, np.random.default_rng(seed))
    clean.to_file(files["clean.gpkg"], driver="GPKG")
    noisy.to_file(files["noisy.gpkg"], driver="GPKG")
    objects.to_file(files["objects.gpkg"], driver="GPKG")
    clean_px = real_data.burn(clean, shape, transform)
    noisy_px = real_data.burn(noisy, shape, transform)
    real_data.write_tif(files["clean.tif"], clean_px, crs, transform, 255)
    real_data.write_tif(files["noisy.tif"], noisy_px, crs, transform, 255)
    truth = (clean_px != noisy_px).astype(np.uint8)
    real_data.write_tif(files["truth.tif"], truth, crs, transform, 255)
    return files


# --------------------------------------------------------------------------- maps


def prior_map(noisy: Path, target: Path, out: Path) -> Path:
    """No model: ``1 −`` the share of each pixel's given class, on the target grid."""
    if out.exists():
        return out
    with rasterio.open(noisy) as src:
        label = src.read(1)
        profile = src.profile
    share = np.bincount(label[label != 255], minlength=256)[:256] / max((label != 255).sum(), 1)
    score = np.where(label == 255, -1.0, 1.0 - share[label]).astype(np.float32)
    profile.update(dtype="float32", nodata=-1.0)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(score[None])
    return out


def cleanlab_map(noise: Path, out: Path) -> Path:
    """cleanlab's pixel issues (``find_label_issues``) as a 0/1 noise map."""
    from cleanlab.segmentation.filter import find_label_issues

    if out.exists():
        return out
    stem = noise.with_suffix("")
    with rasterio.open(f"{stem}.probs.tif") as src:
        probs, profile = src.read(), src.profile
    with rasterio.open(f"{stem}.classes.tif") as src:
        label = src.read(1)
    known = label != 255
    given = np.where(known, label, probs.argmax(0)).astype(np.int64)
    issues = find_label_issues(given[None], probs[None], verbose=False, n_jobs=1)[0]
    flagged = np.where(known & (probs[0] >= 0), issues.astype(np.float32), -1.0)
    profile.update(count=1, dtype="float32", nodata=-1.0)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(flagged[None].astype(np.float32))
    return out


def tree_iou(noise: Path, clean: Path) -> float:
    """IoU of the predicted trees (``noise.classes.tif`` band 2) with the clean crowns."""
    with rasterio.open(noise.with_suffix("").as_posix() + ".classes.tif") as src:
        predicted = src.read(2)
    with rasterio.open(clean) as src:
        truth = src.read(1)
    known = (predicted != 255) & (truth != 255)
    a, b = (predicted == 1) & known, (truth == 1) & known
    return float((a & b).sum() / max((a | b).sum(), 1))


def evaluate(noise: Path, files: dict[str, Path], tiles: Path, log: list[str]) -> dict:
    """Pixel AP, object recall (polygons of ``vectorize``) and tile τ of a noise map."""
    polygons = noise.with_name(noise.stem + "_polygons.gpkg")
    command = [GEONOISE, "-q", "vectorize", noise, "-o", polygons, "--overwrite"]
    try:
        run(command, log)
        with_polygons = ["--polygons", polygons, "--truth-objects", files["objects.gpkg"]]
    except SystemExit:  # nothing above the threshold: no polygons, recall 0
        with_polygons = []
    command = [GEONOISE, "-q", "evaluate", noise, "--truth", files["truth.tif"], "--tiles", tiles]
    result = json.loads(run([*command, *with_polygons, "--json"], log))
    objects = result.get("objects") or {}
    curve = objects.get("by_score") or {}
    return {
        "object_precision_at_08": curve.get("precision_at_recall"),
        "object_cutoff_at_08": curve.get("cutoff_at_recall"),
        "ap": result["pixels"]["average_precision"],
        "base_rate": result["pixels"]["base_rate"],
        "best_f1": result["pixels"]["best_f1"],
        "object_recall": objects.get("recall", 0.0),
        "object_precision": objects.get("precision"),
        "tau": result["tiles"]["kendall_tau"],
    }


# --------------------------------------------------------------------------- runs


def train(role: str, tiles: Path, out: Path, args: argparse.Namespace, log: list[str], *more):
    if not out.exists():
        command = [GEONOISE, "-q", f"train-{role}", tiles, "-o", out, "--overwrite"]
        command += ["--preset", args.preset, "--seed", str(args.seed), *more]
        if args.steps:
            command += ["--steps", str(args.steps)]
        run(command, log)
    return out


def tile(scene: Path, labels: Path, out: Path, log: list[str], size: int = TILE, overlap=OVERLAP):
    if not (out / "tiles.gpkg").exists():
        command = [GEONOISE, "-q", "tile", scene, "-l", labels, "-o", out, "--overwrite"]
        run([*command, "--size", str(size), "--overlap", str(overlap)], log)
    return out


def detect(scene: Path, labels: Path, model: Path, out: Path, log: list[str], *more) -> Path:
    if not out.exists():
        command = [GEONOISE, "-q", "detect", scene, "-l", labels, "-m", model, "-o", out]
        run([*command, "--overwrite", "--no-quicklook", *more], log)
    return out


def run_scene(name: str, args: argparse.Namespace, log: list[str]) -> list[dict]:
    root = WORK / args.tag / name
    root.mkdir(parents=True, exist_ok=True)
    scene, crowns = real_data.tree_scene(name, WORK)
    west, east = real_data.split_halves(scene, WORK / name)
    files = target_files(east, crowns, WORK / name / "target", args.seed)
    tiles_west = tile(west, crowns, WORK / name / "tiles_west", log)
    tiles_east = tile(east, files["noisy.gpkg"], WORK / name / "tiles_east", log)
    eval_tiles = tile(east, files["noisy.gpkg"], WORK / name / "eval_tiles", log, EVAL_TILE, 0)
    teacher = train("teacher", tiles_west, root / "teacher.ckpt", args, log)
    noisy_only = train("teacher", tiles_east, root / "noisy_only.ckpt", args, log)
    # Two Noisy Student rounds; round 1 is the plain student (the same seed trains the same
    # weights as without --rounds).
    more = ("--teacher", teacher, "--rounds", "2")
    train("student", tiles_east, root / "student.ckpt", args, log, *more)
    student, round2 = (root / f"student.round{k}.ckpt" for k in (1, 2))
    labels = files["noisy.gpkg"]
    maps = {
        "student": detect(east, labels, student, root / "student.tif", log),
        "student-round2": detect(east, labels, round2, root / "student_round2.tif", log),
        "noisy-only": detect(
            east, labels, noisy_only, root / "noisy_only.tif", log, "--probabilities"
        ),
        "teacher": detect(east, labels, teacher, root / "teacher.tif", log),
    }
    maps["cleanlab"] = cleanlab_map(maps["noisy-only"], root / "cleanlab.tif")
    maps["prior"] = prior_map(files["noisy.tif"], east, root / "prior.tif")
    rows = []
    for method in METHODS:
        row = {"scene": name, "method": method, **evaluate(maps[method], files, eval_tiles, log)}
        if method in ("student", "student-round2", "noisy-only", "teacher"):
            row["tree_iou"] = tree_iou(maps[method], files["clean.tif"])
        rows.append(row)
    fixed = fix_row(name, east, files, maps["student"], teacher, root, args, log)
    return [*rows, fixed]


def fix_row(
    name: str,
    east: Path,
    files: dict[str, Path],
    noise: Path,
    teacher: Path,
    root: Path,
    args: argparse.Namespace,
    log: list[str],
) -> dict:
    """``geonoise fix`` (defaults) of the noisy crowns from the student's map, scored.

    The fixed crowns are burned like the others and set against the clean ones
    (:mod:`geonoise.evaluation.fixes`); a student retrained on them (same teacher, seed,
    budget) against the default student: tree IoU with the clean crowns.
    """
    from geonoise.evaluation.fixes import fix_metrics
    from geonoise.io import read_vector

    fixed, summary = root / "fixed.gpkg", root / "fixed.json"
    if not summary.exists():
        command = [GEONOISE, "-q", "fix", files["noisy.gpkg"], "--noise", noise, "-o", fixed]
        summary.write_text(run([*command, "--class-field", "class", "--overwrite", "--json"], log))
    with rasterio.open(files["clean.tif"]) as src:
        clean, shape, transform = src.read(1), src.shape, src.transform
    with rasterio.open(files["noisy.tif"]) as src:
        noisy = src.read(1)
    burned = real_data.burn(read_vector(fixed), shape, transform)
    objects = gpd.read_file(files["objects.gpkg"])
    metrics = fix_metrics(noisy, burned, clean, objects=objects, transform=transform)
    tiles = tile(east, fixed, root / "tiles_fixed", log)
    more = ("--teacher", teacher)
    retrained = train("student", tiles, root / "student_fixed.ckpt", args, log, *more)
    on_fixed = detect(east, files["noisy.gpkg"], retrained, root / "student_fixed.tif", log)
    return {
        "scene": name,
        "method": "fix",
        **metrics.to_dict(),
        "changes": json.loads(summary.read_text())["proposed"],
        "tree_iou_noisy_labels": tree_iou(noise, files["clean.tif"]),
        "tree_iou_fixed_labels": tree_iou(on_fixed, files["clean.tif"]),
    }


def run_landsat(args: argparse.Namespace, log: list[str]) -> list[dict]:
    """A land-cover teacher on the north half of each data type, per-class IoU on the south."""
    paths = real_data.landsat(WORK)
    rows = []
    for kind in real_data.L7_TYPES:
        out = WORK / "l7" / kind
        out.mkdir(parents=True, exist_ok=True)
        north, south = real_data.split_halves(paths[kind], out, north_south=True)
        labels = paths["labels"]
        tiles = tile(north, labels, out / "tiles", log, 64, 16)
        model = train("teacher", tiles, WORK / args.tag / f"l7_{kind}.ckpt", args, log)
        noise = detect(
            south, labels, model, WORK / args.tag / f"l7_{kind}.tif", log, "--resample-labels"
        )
        with rasterio.open(noise.with_suffix("").as_posix() + ".classes.tif") as src:
            given, predicted = src.read(1), src.read(2)
        known = (given != 255) & (predicted != 255)
        ious = {}
        for value, name in enumerate(("water", "vegetation", "bare", "dense")):
            a, b = (predicted == value) & known, (given == value) & known
            ious[name] = float((a & b).sum() / max((a | b).sum(), 1))
        rows.append({"data_type": kind, **ious, "miou": float(np.mean(list(ious.values())))})
    return rows


# --------------------------------------------------------------------------- report

NAMES = {
    "student": "student (teacher-guided, the default pipeline)",
    "student-round2": "student, Noisy Student round 2 (relabel)",
    "noisy-only": "noisy-only (same net, no teacher)",
    "teacher": "teacher alone (west half, clean)",
    "cleanlab": "cleanlab find_label_issues (noisy-only probabilities)",
    "prior": "no model: 1 − share of the given class",
}


def tables(rows: list[dict], landsat: list[dict]) -> list[str]:
    lines = [
        "| scene | method | tree IoU vs clean (east) | pixel AP | noisy pixels | object recall "
        "| object precision | object precision at recall ≥ 0.8 (cut-off) | tile τ |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r["method"] != "fix"):
        iou = f"{r['tree_iou']:.3f}" if "tree_iou" in r else "–"
        precision = "–" if r["object_precision"] is None else f"{r['object_precision']:.3f}"
        at = r.get("object_precision_at_08")
        at = "not reached" if at is None else f"{at:.3f} ({r['object_cutoff_at_08']:.2f})"
        lines.append(
            f"| {r['scene']} | {NAMES[r['method']]} | {iou} | {r['ap']:.3f} | "
            f"{r['base_rate']:.1%} | {r['object_recall']:.3f} | {precision} | {at} | "
            f"{r['tau']:.3f} |"
        )
    if not landsat:
        return lines
    lines += ["", "| Landsat data type | water | vegetation | bare | dense vegetation | mIoU |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for r in landsat:
        lines.append(
            f"| {r['data_type']} | {r['water']:.3f} | {r['vegetation']:.3f} | {r['bare']:.3f} "
            f"| {r['dense']:.3f} | {r['miou']:.3f} |"
        )
    return lines


def verdict(rows: list[dict]) -> list[str]:
    """The issue's targets on OSBS, and how the student stands against every baseline."""
    lines = []
    for scene in dict.fromkeys(r["scene"] for r in rows):
        got = {r["method"]: r for r in rows if r["scene"] == scene}
        student, prior = got["student"], got["prior"]
        beaten = [m for m in BASELINES if student["ap"] > got[m]["ap"]]
        lines.append(
            f"- {scene}: teacher tree IoU {got['teacher']['tree_iou']:.3f}"
            + (
                " (target 0.6: " + ("met" if got["teacher"]["tree_iou"] >= 0.6 else "NOT met") + ")"
                if scene == "osbs"
                else ""
            )
            + f"; student AP {student['ap']:.3f}"
            + (
                " (target 0.5: " + ("met" if student["ap"] >= 0.5 else "NOT met") + ")"
                if scene == "osbs"
                else ""
            )
            + f", {student['ap'] / max(prior['ap'], 1e-9):.2f}× the prior's {prior['ap']:.3f}"
            + f"; above {', '.join(beaten) or 'no baseline'}"
        )
    return lines


def fix_section(fixes: list[dict]) -> list[str]:
    """The report's part on ``geonoise fix``: the crowns it fixed, against the clean ones."""
    lines = [
        "## `geonoise fix` of the noisy crowns",
        "",
        "`geonoise fix noisy.gpkg --noise student.tif --class-field class` with its defaults; "
        "the fixed crowns burned like the clean ones and scored by "
        "`geonoise.evaluation.fixes.fix_metrics`: noisy pixels corrected, new errors as a "
        "share of those, changed crowns (`objects.gpkg`) at least half of whose noisy pixels "
        "are corrected; and the tree IoU (clean crowns) of a student trained like the default "
        "one on the fixed crowns, against the default student's.",
        "",
        "| scene | changes (missing / spurious / boundary) | noisy pixels corrected | new errors "
        "(share of corrected) | changed crowns corrected | tree IoU: student on noisy → on "
        "fixed crowns | target (≥ 50 %, < 20 %) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in fixes:
        cells = fix_cells(r)
        lines.append(
            f"| {r['scene']} | {cells['changes']} | {cells['corrected']} | {cells['new_errors']} "
            f"| {cells['objects']} | {r['tree_iou_noisy_labels']:.3f} → "
            f"{r['tree_iou_fixed_labels']:.3f} | {cells['target']} |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", default=list(real_data.TREE_SCENES))
    parser.add_argument("--steps", type=int, default=None, help="default: geonoise's own rule")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-landsat", action="store_true")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "RESULTS_real.md")
    args = parser.parse_args(argv)
    args.tag = f"{args.preset}-s{args.steps or 'default'}-seed{args.seed}"
    started = time.perf_counter()
    log: list[str] = []
    rows = [row for name in args.scenes for row in run_scene(name, args, log)]
    landsat = [] if args.no_landsat else run_landsat(args, log)
    minutes = (time.perf_counter() - started) / 60
    stem = "real" if args.output.name == "RESULTS_real.md" else args.output.stem
    result = {"scenes": rows, "landsat": landsat, "args": vars(args) | {"output": str(args.output)}}
    args.output.with_name(f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    given = shlex.join(sys.argv[1:] if argv is None else argv)
    import torch

    text = [
        "# Real scenes: does training learn the foreground, and is the noise found?",
        "",
        f"Produced by `.venv/bin/python benchmarks/bench_real.py{' ' + given if given else ''}` "
        f"in {minutes:.0f} min (models reused from `benchmarks/_work/real/` where an "
        f"earlier run of the same settings left them). Every number below comes from that run "
        f"(also in `{stem}.json`). Scenes and their sources: `benchmarks/real_data.py`. "
        f"Noise: {NOISE_RATE:.0%} of the east half's crowns changed (dropped, added, shifted, "
        f"dilated); tiles of {TILE} px with {OVERLAP} px overlap; evaluation tiles {EVAL_TILE} px.",
        "",
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"torch {torch.__version__}; preset {args.preset}, "
        f"{'--steps ' + str(args.steps) if args.steps else 'default budget'}, seed {args.seed}",
        "",
        "## Results",
        "",
        *tables(rows, landsat),
        "",
        "## Targets",
        "",
        *verdict(rows),
        "",
        *fix_section([r for r in rows if r["method"] == "fix"]),
        "## Commands",
        "",
        "```",
        *log,
        "```",
        "",
    ]
    args.output.write_text("\n".join(text))
    print("\n".join(tables(rows, landsat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
