"""``geonoise fix`` on files: labels and a noise map in, fixed labels and a review layer out.

:func:`propose_file` finds the changes the model is confident of
(:mod:`geonoise.fixing.changes`), writes the labels with all of them applied
and the review layer (status ``proposed``); :func:`apply_file` reads a
reviewed layer back and writes the labels with its ``accepted`` changes only.
Raster labels are fixed by :mod:`~geonoise.fixing.rasters`, vector labels by
:mod:`~geonoise.fixing.vectors`. Every output is checked before any work and
moved into place whole; the labels themselves are never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.labels import open_labels, reprojecting
from geonoise.errors import InvalidInputError
from geonoise.fixing.changes import find_changes
from geonoise.fixing.options import DEFAULT_OPTIONS, FIX_KINDS, FixOptions
from geonoise.fixing.rasters import (
    LabelRaster,
    apply_to_raster,
    check_raster_outputs,
    read_label_raster,
    write_label_raster,
)
from geonoise.fixing.review import (
    LABELS_KEY,
    MODE_KEY,
    SHAPE_KEY,
    check_belongs,
    check_review_output,
    read_review,
    review_frame,
    review_path_for,
    write_review,
)
from geonoise.fixing.vectors import (
    LabelLayer,
    apply_to_layer,
    check_vector_outputs,
    label_features,
    read_label_layer,
    write_label_layer,
)
from geonoise.vectorize.files import classes_path_for
from geonoise.vectorize.polygonize import check_classes

if TYPE_CHECKING:
    import geopandas as gpd
    import rasterio

#: Share of labelled pixels on which the labels may differ from the class companion's
#: band 1 (the labels detect scored) before the noise map is refused as made from others.
MAX_LABEL_MISMATCH = 0.01


@dataclass
class Summary:
    """What a fix run wrote, for the CLI to report.

    Attributes:
        output: The fixed labels.
        review: The review layer written (propose), or read (apply).
        mode: ``raster`` or ``vector`` labels.
        proposed: Changes in the review layer, per kind (kinds that occur only).
        applied: Changes applied (propose: all proposed; apply: the accepted ones).
        edits: What applying did: ``pixels`` changed (raster), or features
            ``removed``, ``added`` and ``reshaped`` (vector).
    """

    output: str
    review: str
    mode: str
    proposed: dict[str, int]
    applied: int
    edits: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain values for ``--json``."""
        return {
            "output": self.output, "review": self.review, "mode": self.mode,
            "proposed": self.proposed, "applied": self.applied, "edits": self.edits,
        }  # fmt: skip


def propose_file(
    labels_path: str | os.PathLike,
    noise_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    classes_path: str | os.PathLike | None = None,
    review_path: str | os.PathLike | None = None,
    options: FixOptions = DEFAULT_OPTIONS,
    overwrite: bool = False,
) -> Summary:
    """Propose the changes of the noise map at ``noise_path`` to the labels at ``labels_path``.

    Writes the labels with every proposed change applied at ``output`` and the
    review layer at ``review_path`` (default: ``OUTPUT_STEM.review.gpkg``).
    Vector labels' changes are simplified by half a pixel unless
    ``options.simplify`` says otherwise.

    Raises:
        InvalidInputError: An output in the wrong format or on the labels, no class
            companion, or a noise map made from other labels.
        GeoreferenceError: The labels are not on (or aligned with) the noise map's grid.
        OutputExistsError: An output exists and ``overwrite`` is False.
    """
    output, review_path = _check_outputs(labels_path, output, review_path, overwrite)
    classes_path = classes_path or classes_path_for(noise_path)
    if not Path(classes_path).is_file():
        raise InvalidInputError(
            f"{classes_path} not found: fix needs the class companion that detect wrote "
            "beside the noise map (band 2, the predicted class)",
            "--classes",
        )
    vector = io.is_vector_path(labels_path)
    with contextlib.ExitStack() as stack:
        noise = stack.enter_context(io.open_scene(noise_path))
        classes = stack.enter_context(io.open_scene(classes_path))
        check_classes(noise, classes)
        if vector and options.simplify == 0:
            options = dataclasses.replace(options, simplify=abs(noise.transform.a) / 2)
        changes = _changes(labels_path, noise, classes, options)
    labels = (
        read_label_layer(labels_path, options.class_field)
        if vector
        else read_label_raster(labels_path)
    )
    with reprojecting(str(noise_path), changes.crs, labels_crs(labels)):
        changes = changes.to_crs(labels_crs(labels))
    review = review_frame(changes, label_features(labels, changes) if vector else None)
    summary = _apply(labels, review, output, overwrite)
    write_review(review, review_path, _metadata(labels), overwrite=overwrite)
    summary.review = str(review_path)
    return summary


def apply_file(
    labels_path: str | os.PathLike,
    review_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    class_field: str | None = None,
    overwrite: bool = False,
) -> Summary:
    """Apply the accepted changes of the review layer at ``review_path`` to the labels.

    Raises:
        InvalidInputError: A status none of proposed, accepted, rejected; a review
            layer proposed for other labels or in another CRS; an output in the
            wrong format or on the labels.
    """
    output, _ = _check_outputs(labels_path, output, None, overwrite, review=False)
    review, metadata = read_review(review_path)
    vector = io.is_vector_path(labels_path)
    labels = (
        read_label_layer(labels_path, class_field) if vector else read_label_raster(labels_path)
    )
    check_belongs(metadata, _metadata(labels), str(review_path), str(labels_path))
    if review.crs is None or not review.crs.equals(labels_crs(labels)):
        raise InvalidInputError(
            f"{review_path} is not in the CRS of {labels_path}; apply the review layer "
            "in the CRS it was written in",
            "--apply",
        )
    summary = _apply(labels, review[review["status"] == "accepted"], output, overwrite)
    summary.review, summary.proposed = str(review_path), _by_kind(review)
    return summary


def _check_outputs(
    labels_path: str | os.PathLike,
    output: str | os.PathLike,
    review_path: str | os.PathLike | None,
    overwrite: bool,
    review: bool = True,
) -> tuple[Path, Path]:
    """The output and review paths, refused before any work where they cannot be written
    or would replace the labels."""
    output = Path(output)
    review_path = Path(review_path) if review_path is not None else review_path_for(output)
    written = [output, review_path] if review else [output]
    for path in written:
        if path.resolve() == Path(labels_path).resolve():
            raise InvalidInputError(
                f"{path} is the labels themselves; fix never modifies them, write elsewhere",
                "--output" if path == output else "--review",
            )
    if io.is_vector_path(labels_path):
        check_vector_outputs(labels_path, output, overwrite)
    else:
        check_raster_outputs(labels_path, output, overwrite)
    if review:
        check_review_output(review_path, overwrite)
    return output, review_path


def _changes(
    labels_path: str | os.PathLike,
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader,
    options: FixOptions,
) -> gpd.GeoDataFrame:
    """The changes of the noise map to the labels, read onto its grid and checked against
    the labels it was made from."""
    from rasterio.windows import Window

    window = Window(0, 0, noise.width, noise.height)
    source = open_labels(str(labels_path), noise, class_field=options.class_field)
    try:
        labels = source.read(window)
    finally:
        source.close()
    scored, predicted = classes.read(1), classes.read(2)
    known = (labels != IGNORE) & (scored != IGNORE)
    if known.any() and np.mean(labels[known] != scored[known]) > MAX_LABEL_MISMATCH:
        raise InvalidInputError(
            f"{noise.name} was not made from {labels_path}: they differ on "
            f"{np.mean(labels[known] != scored[known]):.1%} of the labelled pixels; detect "
            "the noise of these labels first",
            "--noise",
        )
    score = noise.read(1, masked=True).astype("float32").filled(np.nan)
    return find_changes(noise, score, labels, predicted, options)


def _apply(
    labels: LabelRaster | LabelLayer, changes: gpd.GeoDataFrame, output: Path, overwrite: bool
) -> Summary:
    """Apply ``changes`` to ``labels``, write the result at ``output``, and say what was done."""
    if isinstance(labels, LabelRaster):
        values, pixels = apply_to_raster(labels, changes)
        write_label_raster(labels, values, output, overwrite=overwrite)
        edits = {"pixels": pixels}
    else:
        frame, edits = apply_to_layer(labels, changes)
        write_label_layer(labels, frame, output, overwrite=overwrite)
    mode = "raster" if isinstance(labels, LabelRaster) else "vector"
    return Summary(str(output), "", mode, _by_kind(changes), len(changes), edits)


def _metadata(labels: LabelRaster | LabelLayer) -> dict[str, str]:
    """The review layer's metadata: which labels, raster or vector, and their grid or count."""
    mode = "raster" if isinstance(labels, LabelRaster) else "vector"
    return {LABELS_KEY: Path(labels.path).name, MODE_KEY: mode, SHAPE_KEY: labels.shape_key}


def labels_crs(labels: LabelRaster | LabelLayer) -> object:
    """The labels' CRS."""
    return labels.profile["crs"] if isinstance(labels, LabelRaster) else labels.frame.crs


def _by_kind(changes: gpd.GeoDataFrame) -> dict[str, int]:
    """Changes per kind, in :data:`FIX_KINDS` order, kinds that occur only."""
    counts = Counter(changes["kind"])
    return {kind: counts[kind] for kind in FIX_KINDS if counts[kind]}
