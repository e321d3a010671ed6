"""``geonoise evaluate``: score a noise map against the truth of the noise."""

from __future__ import annotations

import json
from typing import Any

import click

from .options import (
    FiniteFloatRange,
    json_opt,
    overwrite_opt,
    progress_bar,
    threshold_opt,
    window_size_opt,
)

_existing_file = click.Path(exists=True, dir_okay=False, readable=True)


def _png(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.lower().endswith(".png"):
        raise click.BadParameter(f"{value!r} does not end in .png; the plot is a PNG")
    return value


@click.command(short_help="Score a noise map against the truth of the noise.")
@click.argument("noise", type=_existing_file)
@click.option(
    "--truth",
    required=True,
    type=_existing_file,
    help="Truth mask on the noise map's grid: nonzero = noisy, 0 = clean, 255/nodata ignored "
    "(e.g. noise_truth.tif from geonoise synth).",
)
@click.option(
    "--polygons",
    type=_existing_file,
    default=None,
    help="Suspect polygons to score per object (e.g. the output of geonoise vectorize).",
)
@click.option(
    "--truth-objects",
    type=_existing_file,
    default=None,
    help="Truth objects the polygons are scored against "
    "[default: noise_objects.gpkg beside --truth, when it exists].",
)
@click.option(
    "--min-cover",
    type=FiniteFloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    metavar="SHARE",
    help="A truth object is found when polygons cover this share of its area; a polygon is "
    "correct when this share of it lies in truth objects.",
)
@click.option(
    "--at-recall",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    metavar="RECALL",
    help="Report the best object precision that keeps this object recall, cutting the "
    "polygons at their mean_score, and that cut-off (for vectorize --min-score).",
)
@click.option(
    "--tiles",
    "tile_dir",
    type=click.Path(exists=True, file_okay=False, readable=True),
    default=None,
    help="Tile directory of the same scene (geonoise tile): rank agreement per tile.",
)
@click.option(
    "--ranking",
    type=_existing_file,
    default=None,
    help="ranking.csv of `detect --tiles` whose scores replace each tile's own score "
    "(needs --tiles).",
)
@click.option(
    "--tile-score",
    type=click.Choice(["mean", "softmin", "fraction"]),
    default="softmin",
    show_default=True,
    help="A tile's score from its pixels: mean, softmin (weighted towards the worst pixels, "
    "as cleanlab) or the share at or above --threshold; as detect --tiles.",
)
@click.option(
    "--tile-scene",
    default=None,
    metavar="SCENE",
    help="Scene of the tile directory to use where several lie on the noise map's grid "
    "(its path, file name or stem).",
)
@threshold_opt("Operating point reported beside the curves: a pixel is flagged at score ≥ this.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    callback=_png,
    help="Write the precision-recall curve to this PNG.",
)
@click.option(
    "--bins",
    type=click.IntRange(2, 2**24),
    default=2**16,
    show_default=True,
    help="Score histogram bins on [0, 1]; exact while no bin holds two distinct scores.",
)
@window_size_opt
@overwrite_opt
@json_opt
@click.pass_context
def evaluate(
    ctx: click.Context,
    noise: str,
    truth: str,
    polygons: str | None,
    truth_objects: str | None,
    min_cover: float,
    at_recall: float,
    tile_dir: str | None,
    ranking: str | None,
    tile_score: str,
    tile_scene: str | None,
    threshold: float,
    plot: str | None,
    bins: int,
    window_size: int,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Score the noise map NOISE against the truth of where the labels are wrong.

    \b
    Pixels: average precision (AP), AUROC and the best F1 with its threshold
      of the score (band 1 of NOISE, in [0, 1]), plus precision, recall, F1
      and IoU at --threshold. Pixels that either raster marks as nodata (or
      255 in the truth) are ignored. Ties follow scikit-learn: a constant map
      scores AP = share of noisy pixels and AUROC = 0.5, an inverted perfect
      map AUROC = 0. Scores are tallied in --bins bins, so any size of raster
      fits in memory; exact unless distinct scores share a bin (they then
      count as tied).
    Objects (--polygons): a truth object is found when the polygons cover at
      least --min-cover of its area (recall); a polygon is correct when at
      least --min-cover of its area lies in truth objects (precision).
      Polygons are reprojected to the truth objects' CRS. Where they have a
      mean_score (vectorize's), the best precision among the cut-offs on it
      that keep recall at least --at-recall, and that cut-off.
    Tiles (--tiles): for each tile on the noise map's grid, the --tile-score
      of its evaluated pixels (softmin by default; or its --ranking score)
      against their true noise fraction: Kendall's tau-b and Spearman's rho.

    The truth must be on the noise map's grid (CRS, transform and size). A
    table goes to stdout, or a JSON object with --json.

    \b
    Examples:
      geonoise evaluate noise.tif --truth scene_dir/noise_truth.tif
      geonoise evaluate noise.tif --truth scene_dir/noise_truth.tif \\
          --polygons noise_polygons.gpkg --tiles tiles/ --plot pr.png
      geonoise evaluate noise.tif --truth truth.tif --tiles tiles/ \\
          --ranking ranking/ranking.csv --json
    """
    from geonoise.evaluation.options import EvaluateOptions
    from geonoise.evaluation.run import evaluate_files

    options = EvaluateOptions(
        threshold=threshold,
        min_cover=min_cover,
        at_recall=at_recall,
        bins=bins,
        window_size=window_size,
        tile_scene=tile_scene,
        tile_score=tile_score,
    )
    with progress_bar(ctx, "evaluating", "window") as progress:
        result = evaluate_files(
            noise,
            truth,
            polygons=polygons,
            truth_objects=truth_objects,
            tiles=tile_dir,
            ranking=ranking,
            plot=plot,
            options=options,
            overwrite=overwrite,
            on_window=progress,
        )
    summary = result.to_dict()
    click.echo(json.dumps(summary, indent=2) if as_json else table(summary))


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(summary: dict[str, Any]) -> str:
    """The evaluation as an aligned, readable table."""
    px = summary["pixels"]
    lines = [
        f"noise map  {summary['noise']}",
        f"truth      {summary['truth']}",
        "",
        f"pixels: {px['evaluated']:,} evaluated, {px['noisy']:,} noisy "
        f"({px['base_rate']:.2%}), {px['ignored']:,} ignored",
        f"  average precision   {_number(px['average_precision'])}",
        f"  AUROC               {_number(px['auroc'])}",
        f"  best F1             {_number(px['best_f1'])}  at score ≥ {px['best_threshold']:.4g} "
        f"(precision {px['best_precision']:.4f}, recall {px['best_recall']:.4f})",
        f"  at score ≥ {px['threshold']:<8g} precision {_number(px['precision'])}, "
        f"recall {px['recall']:.4f}, F1 {px['f1']:.4f}, IoU {px['iou']:.4f}",
    ]
    lines += _object_lines(summary["objects"]) + _tile_lines(summary["tiles"])
    if summary["plot"]:
        lines += ["", f"plot       {summary['plot']}"]
    return "\n".join(lines)


def _object_lines(objects: dict[str, Any] | None) -> list[str]:
    if objects is None:
        return []
    lines = [
        "",
        f"objects: {objects['polygons_file']} against {objects['truth_objects_file']} "
        f"(--min-cover {objects['min_cover']:g})",
        f"  recall              {_number(objects['recall'])}  "
        f"({objects['found']} of {objects['truth_objects']} truth objects found)",
    ]
    for kind, row in objects["by_kind"].items():
        lines.append(f"    {kind:<17} {row['recall']:.4f}  ({row['found']} of {row['objects']})")
    lines += [
        f"  precision           {_number(objects['precision'])}  "
        f"({objects['correct']} of {objects['polygons']} polygons in truth objects)",
        f"  F1                  {_number(objects['f1'])}",
    ]
    curve = objects.get("by_score")
    if curve is not None:
        floor = f"recall ≥ {curve['recall_floor']:g}"
        if curve["precision_at_recall"] is None:
            lines.append(f"  precision at {floor}: no cut-off on {curve['score_column']} keeps it")
        else:
            lines.append(
                f"  precision at {floor}  {curve['precision_at_recall']:.4f}  (polygons with "
                f"{curve['score_column']} ≥ {curve['cutoff_at_recall']:.4g}: vectorize "
                f"--min-score {curve['cutoff_at_recall']:.4g})"
            )
    return lines


def _tile_lines(tiles: dict[str, Any] | None) -> list[str]:
    if tiles is None:
        return []
    source = f"{tiles['ranking']} scores" if tiles["ranking"] else tiles["scores"]
    dropped = f", {tiles['dropped']} dropped" if tiles["dropped"] else ""
    return [
        "",
        f"tiles: {tiles['tiles']} of {tiles['directory']}{dropped}; {source} "
        "against the true noise fraction",
        f"  Kendall tau-b       {_number(tiles['kendall_tau'])}  (p {_p(tiles['kendall_p'])})",
        f"  Spearman rho        {_number(tiles['spearman_rho'])}  (p {_p(tiles['spearman_p'])})",
    ]


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2g}"
