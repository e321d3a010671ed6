"""Writing a :class:`~geonoise.synth.Synthesis` as a directory of GIS files.

Rasters go through :func:`geonoise.io.write_raster` (the shared GeoTIFF
profile) and vectors through :func:`geonoise.io.write_vector`; the directory is
written under a temporary name and moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from geonoise import __version__
from geonoise.contracts import IGNORE
from geonoise.io import atomic_output, styles, write_json, write_raster, write_vector
from geonoise.synth import Synthesis, config_dict, synth_command

#: File names inside the output directory, by role.
FILES = {
    "scene": "scene.tif",
    "labels_clean": "labels_clean.tif",
    "labels_clean_vector": "labels_clean.gpkg",
    "labels_noisy": "labels_noisy.tif",
    "labels_noisy_vector": "labels_noisy.gpkg",
    "noise_truth": "noise_truth.tif",
    "noise_objects": "noise_objects.gpkg",
    "metadata": "synth.json",
    # QGIS styles of the rasters (the GeoPackages hold theirs inside)
    "labels_clean_style": "labels_clean.qml",
    "labels_noisy_style": "labels_noisy.qml",
    "noise_truth_style": "noise_truth.qml",
}
#: Label rasters are always lossless, whatever ``--co`` asks of the scene image.
LABEL_OPTIONS = {"COMPRESS": "DEFLATE"}


def write_synthesis(
    result: Synthesis,
    directory: str | os.PathLike,
    *,
    overwrite: bool = False,
    creation_options: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``result`` into ``directory`` (refused if it exists, unless ``overwrite``).

    Args:
        result: What :func:`geonoise.synth.synthesize` returned.
        directory: The output directory.
        overwrite: Replace an existing directory.
        creation_options: GDAL creation options for the scene image only.

    Returns:
        The final path of every file written, keyed as in :data:`FILES`.
    """
    final = Path(directory)
    with atomic_output(final, overwrite) as tmp:
        tmp.mkdir()
        _write_rasters(result, tmp, dict(creation_options or {}))
        with _fixed_timestamps():
            labels = styles.outline_qml(LABEL_OUTLINE, 0.5)
            write_vector(result.clean, tmp / FILES["labels_clean_vector"], "labels", labels)
            write_vector(result.noisy, tmp / FILES["labels_noisy_vector"], "labels", labels)
            write_vector(
                result.changes,
                tmp / FILES["noise_objects"],
                "noise_objects",
                styles.categories_qml("kind", noise_object_colours()),
            )
        metadata = synth_metadata(result, str(final), creation_options)
        write_json(tmp / FILES["metadata"], metadata)
    return {key: final / name for key, name in FILES.items()}


#: Label outlines in QGIS, as in detect's quicklook: cyan is off the noise ramp.
LABEL_OUTLINE = (0, 200, 220)


def noise_object_colours() -> dict[
    str, tuple[tuple[int, int, int, int], tuple[int, int, int], str]
]:
    """The QGIS colours of the generated noise kinds: those :mod:`geonoise.vectorize` finds
    them as (an outline moved is a boundary, a class flipped a class change)."""
    kinds = styles.KIND_COLOURS
    moved = {
        kind: (*kinds["boundary"][:2], f"{kind} (outline moved)")
        for kind in ("shift", "dilate", "erode", "elastic")
    }
    return {
        "missing": kinds["missing"],
        "spurious": kinds["spurious"],
        **moved,
        "flip": (*kinds["class_change"][:2], "flip (class changed)"),
    }


@contextlib.contextmanager
def _fixed_timestamps() -> Iterator[None]:
    """Make GeoPackages byte-reproducible: GDAL stamps them with the current time."""
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _write_rasters(result: Synthesis, directory: Path, scene_options: dict[str, str]) -> None:
    from rasterio.enums import ColorInterp

    georef = {"crs": result.crs, "transform": result.grid.transform}
    write_raster(
        directory / FILES["scene"],
        result.scene,
        **georef,
        creation_options=scene_options,
        descriptions=["red", "green", "blue"],
        colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue],
        tags={"GEONOISE_STYLE": result.config.style, "GEONOISE_SEED": str(result.config.seed)},
    )
    classes = ",".join(f"{i}={name}" for i, name in enumerate(result.class_names))
    for key, array, text in (
        ("labels_clean", result.clean_raster, "clean label"),
        ("labels_noisy", result.noisy_raster, "noisy label"),
    ):
        write_raster(
            directory / FILES[key],
            array,
            **georef,
            nodata=IGNORE,
            creation_options=LABEL_OPTIONS,
            descriptions=[text],
            tags={"CLASSES": classes, "IGNORE": str(IGNORE)},
        )
        styles.raster_style(directory / FILES[key], "classes", result.class_names)
    write_raster(
        directory / FILES["noise_truth"],
        result.truth,
        **georef,
        creation_options=LABEL_OPTIONS,
        descriptions=["label noise (1 = noisy label differs from clean)"],
    )
    styles.raster_style(directory / FILES["noise_truth"], "classes", ["clean", "noisy"])


def synth_metadata(
    result: Synthesis, output: str, creation_options: Mapping[str, str] | None
) -> dict[str, Any]:
    """What ``synth.json`` holds: parameters, version, regenerating command, summary."""
    return {
        "geonoise_version": __version__,
        "command": synth_command(result.config, output, dict(creation_options or {})),
        "parameters": config_dict(result.config),
        "crs": result.crs.to_string(),
        "transform": list(result.grid.transform)[:6],
        "classes": list(result.class_names),
        "ignore_value": IGNORE,
        "summary": result.summary(),
        "files": FILES,
    }
