"""``geonoise detect``: noise maps of scenes, or a ranking of tiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .options import (
    creation_options_opt,
    device_opt,
    echo_outputs,
    json_opt,
    output_opt,
    overwrite_opt,
    progress_bar,
    threshold_opt,
    verbosity,
)

if TYPE_CHECKING:
    from geonoise.detection.batch import SceneResult
    from geonoise.detection.options import DetectOptions


@click.command(short_help="Write per-pixel noise maps of scenes, or rank tiles by noise.")
@click.argument("scenes", nargs=-1)
@click.option(
    "-l",
    "--labels",
    multiple=True,
    help="Labels (raster or vector) per scene in order, or one for all; @FILE lists "
    "them. In tile mode with --tiles as an image folder: the label folder.",
)
@click.option(
    "-m",
    "--model",
    "models",
    required=True,
    multiple=True,
    help="A model file from train-teacher/train-student, or an .onnx from export. "
    "Repeat it, or give @FILE (e.g. the student.folds.txt of train-student --folds), for "
    "several: cross-fitted models each score only the region they held out, others "
    "are averaged.",
)
@output_opt
@click.option(
    "--tiles",
    type=click.Path(exists=True, file_okay=False),
    help="Tile mode: a tile directory from `geonoise tile`, or a folder of image "
    "tiles (labels from --labels FOLDER).",
)
@click.option(
    "--window",
    type=click.IntRange(16, 8192),
    help="Window edge in pixels (default: the model's tile size).",
)
@click.option(
    "--overlap",
    type=click.IntRange(0),
    help="Pixels shared by neighbouring windows, blended with cosine weights "
    "(default: an eighth of the window).",
)
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option(
    "--method",
    type=click.Choice(["self-confidence", "confident-learning"]),
    default="self-confidence",
    show_default=True,
    help="Pixel noise score: 1 − p(label), or with confident learning's per-class thresholds.",
)
@click.option(
    "--tta/--no-tta",
    default=True,
    show_default=True,
    help="Average the 8 flips/rotations of each window: better noise maps (pixel AP +0.05 "
    "on average in benchmarks/RESULTS.md) for 8× the model time; --no-tta for speed.",
)
@click.option(
    "--probabilities", is_flag=True, help="Also write the class probabilities (<name>.probs.tif)."
)
@click.option(
    "--quicklook/--no-quicklook",
    default=True,
    show_default=True,
    help="Write <name>.quicklook.png beside each noise map.",
)
@click.option(
    "--tile-score",
    type=click.Choice(["mean", "softmin", "fraction", "iou"]),
    default="softmin",
    show_default=True,
    help="Tile mode: how a tile's noise is summed up: mean pixel score, softmin (weighted "
    "towards the worst pixels, as cleanlab), share above --threshold, or 1 − IoU.",
)
@threshold_opt("Tile mode: a pixel counts as noisy from this score up (--tile-score fraction).")
@click.option(
    "--binary-255",
    is_flag=True,
    help="Tile mode with folders: read 255 in the masks as class 1, not ignore.",
)
@click.option("--class-field", help="Attribute of vector labels holding class ids.")
@click.option("--all-touched", is_flag=True, help="Burn every pixel a vector label touches.")
@click.option(
    "--resample-labels",
    is_flag=True,
    help="Resample (nearest) label rasters that are not on the scene grid.",
)
@device_opt
@creation_options_opt
@overwrite_opt
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Skip scenes whose noise map exists (finish an interrupted batch).",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="On a failing scene: stop, or report it and go on.",
)
@json_opt
@click.pass_context
def detect(
    ctx: click.Context,
    scenes: tuple[str, ...],
    labels: tuple[str, ...],
    models: tuple[str, ...],
    output: str,
    tiles: str | None,
    **options: Any,
) -> None:
    """Compare a model with the labels of SCENES and write where they disagree.

    Scene mode writes, per scene, a noise map on the scene's grid (float32 score
    in [0, 1], nodata −1; COG layout with a QGIS style), <name>.classes.tif
    (given label and predicted class, for `vectorize`) and a quicklook PNG.
    With one scene and -o ending in .tif, that is the noise map's path;
    otherwise -o is a directory receiving <scene>.noise.tif per scene. Under
    torchrun, each process takes its share of the scenes.

    Tile mode (--tiles) writes OUTPUT/noise/<tile>.tif, OUTPUT/ranking.csv
    (id,imageid,score: tiles from least to most noisy) and, for georeferenced
    tiles, OUTPUT/ranking.gpkg (footprints with scores).

    \b
    Examples:
      geonoise detect scene.tif -l buildings.gpkg -m student.onnx -o noise.tif
      geonoise detect @scenes.txt -l @labels.txt -m student.ckpt -o noise/ --skip-existing
      geonoise detect --tiles tiles/ -m student.ckpt -o ranking/ --tile-score iou
      geonoise detect --tiles patches/ -l masks/ --binary-255 -m s.onnx -o ranking/
      geonoise detect scene.tif -l labels.tif -m @student.folds.txt -o noise.tif
    """
    from geonoise import io
    from geonoise.detection.options import DetectOptions

    detect_options = DetectOptions(
        window=options["window"],
        overlap=options["overlap"],
        batch_size=options["batch_size"],
        method=options["method"],
        tta=options["tta"],
        probabilities=options["probabilities"],
        quicklook=options["quicklook"],
        class_field=options["class_field"],
        all_touched=options["all_touched"],
        resample_labels=options["resample_labels"],
        creation_options=options["creation_options"],
    )
    model_paths = io.expand_lists(models, "--model")
    if tiles is not None:
        if scenes:
            raise click.UsageError("give either SCENES or --tiles, not both")
        if len(labels) > 1:
            raise click.BadParameter("tile mode takes one label folder", param_hint="'--labels'")
        _tile_mode(
            ctx, tiles, labels[0] if labels else None, model_paths, output, detect_options, options
        )
        return
    if not scenes:
        raise click.UsageError("give SCENES to score, or --tiles for tile mode")
    scene_paths = io.expand_lists(scenes, "SCENES")
    label_paths = io.expand_lists(labels, "--labels")
    _scene_mode(ctx, scene_paths, label_paths, model_paths, output, detect_options, options)


def _scene_mode(
    ctx: click.Context,
    scenes: list[str],
    labels: list[str],
    models: list[str],
    output: str,
    detect_options: DetectOptions,
    options: dict[str, Any],
) -> None:
    from geonoise.detection.batch import detect_batch
    from geonoise.errors import GeonoiseError

    with progress_bar(ctx, "detect", "window") as progress:
        batch = detect_batch(
            scenes,
            labels,
            models,
            output,
            detect_options,
            device=options["device"],
            overwrite=options["overwrite"],
            skip_existing=options["skip_existing"],
            on_error=options["on_error"],
            progress=progress,
        )
    if options["as_json"]:
        click.echo(json.dumps(batch.to_dict(), indent=2))
    else:
        for result in batch.scenes:
            _report_scene(ctx, result)
    if batch.failed:
        first = batch.failed[0]
        raise GeonoiseError(
            f"{len(batch.failed)} of {len(batch.scenes)} scenes failed; first: "
            f"{first.scene}: {first.error}"
        )


def _report_scene(ctx: click.Context, result: SceneResult) -> None:
    quiet = verbosity(ctx) < 0
    if result.status == "done" and result.summary is not None:
        summary = result.summary
        if not quiet and summary.mean_score is not None:
            click.echo(
                f"{summary.scene}: mean score {summary.mean_score:.3f}, "
                f"{100 * (summary.noisy_fraction or 0):.1f}% of labelled pixels at or above "
                f"0.5 ({summary.seconds:.1f} s)",
                err=True,
            )
        echo_outputs(
            ctx,
            [
                (summary.noise, "noise score 0..1, nodata -1"),
                (summary.classes, "band 1 given label, band 2 predicted class"),
                (summary.probabilities, "class probabilities"),
                (summary.quicklook, "quicklook"),
            ],
        )
        click.echo(summary.noise)
    elif result.status == "skipped" and not quiet:
        click.echo(f"{result.scene}: skipped, {result.noise} exists", err=True)


def _tile_mode(
    ctx: click.Context,
    tiles: str,
    labels_dir: str | None,
    models: list[str],
    output: str,
    detect_options: DetectOptions,
    options: dict[str, Any],
) -> None:
    from geonoise.detection.tiles import RankOptions, rank_tile_dir

    ranking = RankOptions(tile_score=options["tile_score"], threshold=options["threshold"])
    with progress_bar(ctx, "detect", "tile") as progress:
        result = rank_tile_dir(
            tiles,
            labels_dir,
            models,
            output,
            detect_options,
            ranking,
            device=options["device"],
            binary_255=options["binary_255"],
            overwrite=options["overwrite"],
            progress=progress,
        )
    if options["as_json"]:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if verbosity(ctx) >= 0:
        click.echo(f"{result.tiles} tiles ranked by {result.tile_score} score", err=True)
    echo_outputs(
        ctx,
        [
            (result.ranking, "tiles from least to most noisy"),
            (result.layer, "tile footprints with rank and scores"),
            (Path(result.output) / "noise", f"noise map per tile ({result.tiles})"),
        ],
    )
    click.echo(result.ranking)
