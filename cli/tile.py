"""``geonoise tile``: cut scenes and their labels into georeferenced tiles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (
    FiniteFloatRange,
    creation_options_opt,
    echo_outputs,
    jobs_opt,
    jobs_or_cpus,
    json_opt,
    output_opt,
    overwrite_opt,
    verbosity,
)


@click.command(short_help="Cut scenes and labels into georeferenced tiles with an index.")
@click.argument(
    "scenes", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, readable=True)
)
@click.option(
    "-l",
    "--labels",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="Label raster or vector file; once per scene (same order) or once for all. "
    "Omit to tile images only.",
)
@output_opt
@click.option(
    "--size",
    type=click.IntRange(16, 8192),
    default=256,
    show_default=True,
    help="Tile edge in pixels (16 to 8192).",
)
@click.option(
    "--overlap",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Pixels shared by neighbouring tiles.",
)
@click.option(
    "--min-valid",
    type=FiniteFloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Skip tiles with a smaller share of valid, labelled pixels.",
)
@click.option(
    "--class-field",
    default=None,
    help="Attribute of vector labels holding class ids (default: burn 1).",
)
@click.option(
    "--all-touched",
    is_flag=True,
    help="Burn every pixel a vector feature touches, not only where it covers the centre.",
)
@click.option(
    "--resample-labels",
    is_flag=True,
    help="Resample (nearest) label rasters that are not on the scene's grid.",
)
@jobs_opt("writing tiles")
@creation_options_opt
@overwrite_opt
@json_opt
@click.pass_context
def tile(
    ctx: click.Context,
    scenes: tuple[str, ...],
    labels: tuple[str, ...],
    output: str,
    size: int,
    overlap: int,
    min_valid: float,
    class_field: str | None,
    all_touched: bool,
    resample_labels: bool,
    jobs: int | None,
    creation_options: dict[str, str],
    overwrite: bool,
    as_json: bool,
) -> None:
    """Cut SCENES and their labels into full-size tiles of --size pixels.

    Edge tiles are shifted inward so every tile is full size; a scene smaller
    than a tile is padded (nodata in the image, 255 = ignore in the labels).
    Label rasters must share the scene's grid (or pass --resample-labels);
    vector labels are reprojected to the scene CRS and burned. Scene nodata
    becomes 255 in the labels.

    Writes OUTPUT/images/*.tif, OUTPUT/labels/*.tif and OUTPUT/tiles.gpkg (layer
    "tiles": footprints, windows, valid and class fractions). The directory
    appears only when complete.

    \b
    Examples:
      geonoise tile scene.tif --labels buildings.gpkg -o tiles/
      geonoise tile a.tif b.tif -l a_lab.tif -l b_lab.tif -o tiles/ --size 512 --overlap 64
      geonoise tile scene.tif -l landcover.shp --class-field code --co COMPRESS=ZSTD -o tiles/
    """
    from tqdm import tqdm

    from geonoise import io
    from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles

    io.check_output(output, overwrite)
    options = TileOptions(
        size=size,
        overlap=overlap,
        min_valid=min_valid,
        class_field=class_field,
        all_touched=all_touched,
        resample_labels=resample_labels,
        creation_options=creation_options,
    )
    plans = plan_tiling(list(scenes), list(labels), options)
    quiet = verbosity(ctx) < 0
    total = sum(len(p.windows) for p in plans)
    with tqdm(total=total, unit="tile", desc="tiling", disable=quiet, leave=False) as bar:
        summary = write_tiles(
            plans,
            output,
            options,
            overwrite=overwrite,
            on_tile=lambda _: bar.update(),
            jobs=jobs_or_cpus(jobs),
        )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    if not quiet:
        for scene in summary.scenes:
            reasons = ", ".join(f"{n} {why}" for why, n in scene["skipped"].items())
            click.echo(
                f"{scene['scene']}: {scene['tiles_written']} tiles written, "
                f"{scene['tiles_skipped']} skipped{f' ({reasons})' if reasons else ''}",
                err=True,
            )
    echo_outputs(
        ctx,
        [
            (Path(output) / "tiles.gpkg", "tile index (layer tiles: footprints, fractions)"),
            (Path(output) / "images", "image tiles"),
            (Path(output) / "labels", "label tiles"),
        ],
    )
    click.echo(output)
