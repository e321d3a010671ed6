"""``geonoise fix``: corrected labels from a noise map, with a review layer for QGIS."""

from __future__ import annotations

import json

import click

from .options import (
    FiniteFloatRange,
    echo_outputs,
    json_opt,
    overwrite_opt,
    threshold_opt,
    verbosity,
)


def _min_score_opt(kind: str, what: str):
    """``--min-score-KIND``: the least mean score of a change of ``kind``."""
    from geonoise.fixing.options import DEFAULT_OPTIONS

    return click.option(
        f"--min-score-{kind.replace('_', '-')}",
        f"min_score_{kind}",
        type=FiniteFloatRange(0, 1),
        default=DEFAULT_OPTIONS.min_score(kind),
        show_default=True,
        metavar="SCORE",
        help=f"Propose a {kind} change ({what}) where its mean noise score is at least SCORE.",
    )


@click.command(short_help="Fix labels where the model is confident; review the changes in QGIS.")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="The fixed labels: a GeoTIFF on the labels' grid for raster LABELS, a vector file "
    "(format by suffix, the labels' columns and CRS) for vector LABELS.",
)
@click.option(
    "--noise",
    "noise_path",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    default=None,
    metavar="NOISE",
    help="The noise map of LABELS (geonoise detect) whose changes to propose.",
)
@click.option(
    "--classes",
    "classes_path",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    default=None,
    help="Its class companion (band 2: the predicted class) [default: NOISE.classes.tif].",
)
@click.option(
    "--review",
    "review_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="GPKG",
    help="The review layer to write [default: OUTPUT_STEM.review.gpkg beside -o].",
)
@click.option(
    "--apply",
    "apply_path",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    default=None,
    metavar="GPKG",
    help="Apply the changes of this reviewed layer whose status is 'accepted' (any case) "
    "to LABELS, instead of proposing changes.",
)
@threshold_opt("A pixel can change where its noise score is at least this.")
@_min_score_opt("missing", "a building the label lacks")
@_min_score_opt("spurious", "a labelled building the model does not see")
@_min_score_opt("boundary", "a sliver along an outline")
@_min_score_opt("class_change", "another class, in maps of more classes")
@click.option(
    "--min-area",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="AREA",
    help="Propose no change smaller than AREA (map units² of the noise map).",
)
@click.option(
    "--simplify",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="TOLERANCE",
    help="Simplify the changes' outlines by TOLERANCE (map units); 0: exact pixel edges for "
    "raster labels, half a pixel for vector labels.",
)
@click.option(
    "--class-field",
    default=None,
    metavar="FIELD",
    help="Vector labels: the field of class ids (new features get it) [default: every "
    "feature is class 1, building].",
)
@overwrite_opt
@json_opt
@click.pass_context
def fix(
    ctx: click.Context,
    labels: str,
    output: str,
    noise_path: str | None,
    classes_path: str | None,
    review_path: str | None,
    apply_path: str | None,
    threshold: float,
    min_score_missing: float,
    min_score_spurious: float,
    min_score_boundary: float,
    min_score_class_change: float,
    min_area: float,
    simplify: float,
    class_field: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Fix LABELS where the noise map NOISE is confident, and list every change for review.

    A change is a connected region of pixels whose label the model disagrees
    with (noise score at least --threshold), all towards one class; it is
    proposed where its mean score reaches the --min-score of its kind and its
    area --min-area. Nothing changes where the model is unsure, and LABELS are
    never modified: -o gets the labels with every proposed change applied,
    the review layer one feature per change (kind, from_class, to_class,
    mean_score, max_score, area in m², pixels, label_feature: the label
    feature's row, from 1, in vector mode; status = proposed).

    Raster labels: the pixels of a change take its class. Vector labels: a
    spurious feature is removed, a missing building added (simplified, in the
    labels' CRS), a boundary sliver joined to or cut from its feature.

    Review in QGIS: set status to 'accepted' or 'rejected' (you may also
    reshape a change's polygon), then run fix with --apply to write labels
    with the accepted changes only.

    \b
    Examples:
      geonoise fix labels.tif --noise noise.tif -o fixed.tif
      geonoise fix labels.gpkg --noise noise.tif -o fixed.gpkg --min-score-boundary 0.95
      geonoise fix labels.tif --apply fixed.review.gpkg -o reviewed.tif
    """
    if apply_path is None:
        summary = _propose(labels, output, noise_path, classes_path, review_path, overwrite,
                           threshold=threshold, min_score_missing=min_score_missing,
                           min_score_spurious=min_score_spurious,
                           min_score_boundary=min_score_boundary,
                           min_score_class_change=min_score_class_change, min_area=min_area,
                           simplify=simplify, class_field=class_field)  # fmt: skip
    else:
        _refuse_with_apply(ctx)
        from geonoise.fixing.files import apply_file

        summary = apply_file(
            labels, apply_path, output, class_field=class_field, overwrite=overwrite
        )
    _report(ctx, summary, as_json, apply_path is not None)


def _propose(labels, output, noise_path, classes_path, review_path, overwrite, **options):
    """Propose changes (the command without --apply): needs --noise."""
    if noise_path is None:
        raise click.UsageError("give the noise map of LABELS with --noise, or --apply a review")
    from geonoise.fixing.files import propose_file
    from geonoise.fixing.options import FixOptions

    return propose_file(
        labels, noise_path, output, classes_path=classes_path, review_path=review_path,
        options=FixOptions(**options), overwrite=overwrite,
    )  # fmt: skip


#: Options that only proposing reads: refused with --apply rather than ignored.
PROPOSE_ONLY = ("noise_path", "classes_path", "review_path", "threshold", "min_area", "simplify")
PROPOSE_ONLY += tuple(f"min_score_{k}" for k in ("missing", "spurious", "boundary", "class_change"))


def _refuse_with_apply(ctx: click.Context) -> None:
    """Refuse options of proposing given with --apply (the review layer fixes the changes)."""
    from click.core import ParameterSource

    for param in ctx.command.params:
        if param.name in PROPOSE_ONLY and ctx.get_parameter_source(param.name) not in (
            ParameterSource.DEFAULT,
            None,
        ):
            raise click.UsageError(
                f"{param.opts[-1]} is for proposing changes; --apply applies those of the "
                "review layer as they are"
            )


def _report(ctx: click.Context, summary, as_json: bool, applying: bool) -> None:
    """The summary on stderr (or JSON on stdout), what was written, the output's path."""
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    if verbosity(ctx) >= 0:
        kinds = ", ".join(f"{n} {kind}" for kind, n in summary.proposed.items())
        edits = ", ".join(f"{n} {what}" for what, n in summary.edits.items())
        done = "accepted and applied" if applying else "proposed and applied"
        click.echo(
            f"{summary.output}: {summary.applied} changes {done}"
            f"{f' ({edits})' if edits else ''}; review layer: {sum(summary.proposed.values())} "
            f"changes{f' ({kinds})' if kinds else ''}",
            err=True,
        )
    outputs = [(summary.output, f"{summary.mode} labels, fixed")]
    if not applying:
        outputs.append((summary.review, "changes to review: set status in QGIS, then --apply"))
    echo_outputs(ctx, outputs)
    click.echo(summary.output)
