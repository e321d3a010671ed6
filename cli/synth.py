"""``geonoise synth``: a synthetic scene with clean labels, noisy labels and noise truth."""

from __future__ import annotations

import json
import time

import click

from .options import (
    FiniteFloatRange,
    creation_options_opt,
    echo_outputs,
    json_opt,
    output_opt,
    overwrite_opt,
    seed_opt,
    verbosity,
)

# Kept in step with geonoise.synth (tested); spelled out here so --help stays instant.
STYLE_NAMES = ("temperate", "arid", "tropical")
NOISE_KINDS = ("missing", "spurious", "shift", "dilate", "erode", "elastic", "flip")


def _parse_kinds(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    kinds = tuple(k.strip().lower() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in NOISE_KINDS]
    if unknown or not kinds:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing given'}: not a noise kind; "
            f"use a comma-separated list of {','.join(NOISE_KINDS)}"
        )
    return tuple(dict.fromkeys(kinds))


def _check_crs(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        crs = CRS.from_user_input(value)
    except CRSError as exc:
        raise click.BadParameter(f"{value!r} is not a CRS GDAL knows ({exc})") from exc
    if not crs.is_projected:
        raise click.BadParameter(f"{value} is not projected; use one in metres, e.g. EPSG:32632")
    return value


@click.command(short_help="Make a synthetic scene with clean and noisy labels.")
@output_opt
@overwrite_opt
@click.option(
    "--size",
    nargs=2,
    type=click.IntRange(16, 32768),
    default=(1024, 1024),
    show_default=True,
    metavar="WIDTH HEIGHT",
    help="Scene size in pixels.",
)
@click.option(
    "--resolution",
    type=FiniteFloatRange(0.05, 10.0),
    default=0.5,
    show_default=True,
    help="Ground resolution in metres per pixel.",
)
@click.option(
    "--origin",
    nargs=2,
    type=FiniteFloatRange(),
    default=(500000.0, 5300000.0),
    show_default=True,
    metavar="X Y",
    help="Map coordinates of the top-left corner, in the CRS.",
)
@click.option(
    "--crs",
    default="EPSG:32632",
    show_default=True,
    callback=_check_crs,
    help="Projected CRS in metres (EPSG code, WKT or PROJ string).",
)
@click.option(
    "--classes",
    type=click.Choice(["buildings", "landcover"]),
    default="buildings",
    show_default=True,
    help="Label classes: buildings = 0 background, 1 building; landcover = 0 bare, "
    "1 building, 2 road, 3 tree, 4 water, 5 grass. 255 is ignore/nodata in both.",
)
@click.option(
    "--style",
    type=click.Choice(STYLE_NAMES),
    default="temperate",
    show_default=True,
    help="The scene's look (see the list above); it changes the image, never the labels' rules.",
)
@click.option(
    "--noise-rate",
    type=FiniteFloatRange(0.0, 1.0),
    default=0.2,
    show_default=True,
    help="Fraction of label objects changed (0 = noisy labels equal the clean ones).",
)
@click.option(
    "--noise-kinds",
    callback=_parse_kinds,
    metavar="KIND,...",
    help="Noise kinds to spread the changes over, evenly: missing, spurious, shift, dilate, "
    "erode, elastic, flip (flip needs --classes landcover). Default: all the classes allow.",
)
@seed_opt
@creation_options_opt
@json_opt
@click.pass_context
def synth(
    ctx: click.Context,
    output: str,
    overwrite: bool,
    size: tuple[int, int],
    resolution: float,
    origin: tuple[float, float],
    crs: str,
    classes: str,
    style: str,
    noise_rate: float,
    noise_kinds: tuple[str, ...],
    seed: int,
    creation_options: dict[str, str],
    as_json: bool,
) -> None:
    """Make a synthetic aerial scene with clean labels, noisy labels and the truth of the noise.

    Writes a directory OUTPUT with scene.tif (RGB uint8), labels_clean.tif/.gpkg,
    labels_noisy.tif/.gpkg, noise_truth.tif (1 where the noisy label is wrong),
    noise_objects.gpkg (one row per changed object: kind, dx/dy, distance,
    changed_pixels) and synth.json (parameters and the command that regenerates
    it). The same options and --seed give the same files.

    --co applies to scene.tif only; label and truth rasters stay lossless DEFLATE.

    \b
    Styles:
      temperate  red and grey gabled roofs, green lawns, many trees, sun SSE at 45°
      arid       flat pale roofs, dusty soil, sparse trees, high SW sun, hazy, bright
      tropical   metal and terracotta roofs, lush vegetation, dense trees, high N sun

    \b
    Example:
      geonoise synth -o target/ --style arid --seed 2 --noise-rate 0.2 \\
          --origin 520000 5290000 --co COMPRESS=JPEG --co PHOTOMETRIC=YCBCR
    """
    from geonoise.io import check_output
    from geonoise.synth import SynthConfig, synthesize
    from geonoise.synth.output import write_synthesis

    check_output(output, overwrite)
    started = time.perf_counter()
    config = SynthConfig(
        width=size[0],
        height=size[1],
        resolution=resolution,
        origin=tuple(origin),
        crs=crs,
        classes=classes,
        style=style,
        noise_rate=noise_rate,
        noise_kinds=noise_kinds,
        seed=seed,
    )
    result = synthesize(config)
    files = write_synthesis(result, output, overwrite=overwrite, creation_options=creation_options)
    summary = result.summary()
    if as_json:
        paths = {key: str(path) for key, path in files.items()}
        click.echo(json.dumps({"output": output, "files": paths, **summary}, indent=2))
    else:
        click.echo(output)
    if verbosity(ctx) >= 0 and not as_json:
        click.echo(_describe(summary, time.perf_counter() - started), err=True)
        listed = [(path, WHAT[key]) for key, path in files.items() if key in WHAT]  # not styles
        echo_outputs(ctx, listed)


#: What each file of ``synth`` holds, for the list of outputs.
WHAT = {
    "scene": "the scene (RGB)",
    "labels_clean": "clean labels",
    "labels_clean_vector": "clean labels as polygons",
    "labels_noisy": "noisy labels",
    "labels_noisy_vector": "noisy labels as polygons",
    "noise_truth": "where the noisy labels differ from the clean ones",
    "noise_objects": "the changed objects, by noise kind",
    "metadata": "parameters and the command that regenerates it",
}


def _describe(summary: dict, seconds: float) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in summary["noise_by_kind"].items() if n)
    return (
        f"{summary['objects_clean']} label objects, {summary['objects_changed']} changed"
        f"{f' ({kinds})' if kinds else ''}; {summary['noisy_pixel_fraction']:.2%} of pixels "
        f"noisy; buildings cover {summary['building_pixel_fraction']:.1%}; {seconds:.1f} s"
    )
