"""``geonoise vectorize``: turn a noise map into polygons for QGIS."""

from __future__ import annotations

import json

import click

from .options import (
    FiniteFloatRange,
    echo_outputs,
    jobs_opt,
    jobs_or_cpus,
    json_opt,
    overwrite_opt,
    progress_bar,
    threshold_opt,
    verbosity,
    window_size_opt,
)

#: Help of ``-o``: the formats, and where one needs more than QGIS or GDAL usually have.
OUTPUT_HELP = (
    "The polygon layer, in the format its suffix names: .gpkg (layer 'noise', its QGIS "
    "style inside), .fgb, .shp, .geojson (reprojected to WGS84 longitude/latitude, as "
    "RFC 7946 has it; area stays in m²) or .parquet (GeoParquet, which QGIS and GDAL open "
    "only where GDAL has its Parquet driver: Debian's and Ubuntu's packages lack it, so "
    "prefer .gpkg or .fgb there). Other formats than .gpkg get the style as OUTPUT.qml."
)


@click.command(short_help="Turn a noise map into polygons for QGIS.")
@click.argument("noise", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help=OUTPUT_HELP,
)
@threshold_opt("A pixel is suspect where its noise score is at least this.")
@click.option(
    "--min-area",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="AREA",
    help="Drop regions whose pixel outline is smaller than AREA (map units², m² in a metric "
    "CRS; after --fill-holes, before --simplify, so what is kept does not depend on it).",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    metavar="SCORE",
    help="Drop regions whose mean noise score is below SCORE: fewer false suspects, fewer "
    "found (geonoise evaluate --polygons reports the best cut-off at --at-recall).",
)
@click.option(
    "--fill-holes",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="AREA",
    help="Fill holes smaller than AREA (map units²) and join the regions inside them to "
    "the region around; 0 keeps every hole.",
)
@click.option(
    "--simplify",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="TOLERANCE",
    help="Simplify outlines by TOLERANCE (map units, metres in a metric CRS), keeping them "
    "valid with their holes; 0: exact pixel edges.",
)
@click.option(
    "--classes",
    "classes_path",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    default=None,
    help="Class companion (band 1 label, band 2 predicted) for the class and kind "
    "attributes [default: NOISE.classes.tif beside NOISE, when it exists].",
)
@click.option(
    "--boundary-width",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    metavar="PIXELS",
    help="Slivers within PIXELS of an outline that label and model agree on are 'boundary'.",
)
@window_size_opt
@jobs_opt("scanning blocks of the noise map")
@overwrite_opt
@json_opt
@click.pass_context
def vectorize(
    ctx: click.Context,
    noise: str,
    output: str,
    threshold: float,
    min_area: float,
    min_score: float,
    fill_holes: float,
    simplify: float,
    classes_path: str | None,
    boundary_width: int,
    window_size: int,
    jobs: int | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Turn the noise map NOISE into one polygon per suspect region.

    A region is a 4-connected group of pixels scoring at least --threshold.
    Attributes: id, area (m², of the polygon as written, after --simplify),
    pixels, mean_score, max_score, label_class and predicted_class (the
    majorities) and kind, from the pixels where label and model disagree:
    missing / spurious (whichever way most of them disagree) or boundary (as
    many each way, or a sliver along a building both agree on) for a building
    map, class_change for more classes, uncertain where label and model agree
    on every pixel (the model is only unsure), unknown without class companion.
    The layer is in the CRS of NOISE (GeoJSON aside, see -o); the options'
    lengths and areas are in its units.

    \b
    Examples:
      geonoise vectorize noise.tif -o noise_polygons.gpkg
      geonoise vectorize noise.tif -o suspects.fgb --threshold 0.7 --min-area 4 --fill-holes 1
      geonoise vectorize noise.tif -o suspects.gpkg --simplify 0.25 --json
      geonoise vectorize noise.tif -o confident.gpkg --min-score 0.8 --min-area 2
    """
    from geonoise.vectorize.files import vectorize_file
    from geonoise.vectorize.options import VectorizeOptions

    options = VectorizeOptions(
        threshold=threshold,
        min_area=min_area,
        min_score=min_score,
        fill_holes=fill_holes,
        simplify=simplify,
        boundary_width=boundary_width,
        window_size=window_size,
        jobs=jobs_or_cpus(jobs),
    )
    quiet = verbosity(ctx) < 0
    with progress_bar(ctx, "vectorizing", "block") as progress:
        summary = vectorize_file(
            noise,
            output,
            classes_path=classes_path,
            options=options,
            overwrite=overwrite,
            on_window=progress,
        )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    if not quiet:
        kinds = ", ".join(f"{n} {kind}" for kind, n in summary.by_kind.items())
        click.echo(
            f"{summary.output}: {summary.count} polygons, {summary.total_area:.1f} m²"
            f"{f' ({kinds})' if kinds else ''}",
            err=True,
        )
    echo_outputs(ctx, [(summary.output, "suspect regions with kind, area and scores")])
    click.echo(summary.output)
