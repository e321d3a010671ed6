"""The files ``detect`` writes for a scene, from scratch rasters to styled COGs.

Outputs for ``noise.tif`` (all on the scene grid, COG layout, QGIS styles beside):

* ``noise.tif`` — float32 noise score in [0, 1], nodata −1 where the scene has
  no data or the label is ignore;
* ``noise.classes.tif`` — uint8 band 1 the given label, band 2 the predicted
  class (255 = no data), for ``vectorize``;
* ``noise.probs.tif`` — float32 class probabilities (on request);
* ``noise.quicklook.png`` — scene, label outlines and noise overlay;
* ``noise.qml``, ``noise.classes.qml``, ``noise.probs.qml`` — their QGIS styles.

Strips are first written uncompressed to scratch rasters beside the outputs and
copied to COGs at the end, each moved into place only when complete.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.contracts import IGNORE, NODATA
from geonoise.detection.options import DetectOptions

if TYPE_CHECKING:
    from rasterio.io import DatasetReader, DatasetWriter

    from geonoise.models.checkpoint import ModelMeta

#: Creation options of the scratch rasters: uncompressed, cheap to write and to read back.
SCRATCH_OPTIONS = {"COMPRESS": "NONE", "PREDICTOR": "1"}


@dataclass(frozen=True)
class SceneOutputs:
    """The files written for one scene."""

    noise: Path
    classes: Path
    probabilities: Path | None
    quicklook: Path | None

    @classmethod
    def beside(cls, noise: str | os.PathLike, options: DetectOptions) -> SceneOutputs:
        """The noise map ``noise`` and the companions ``options`` ask for, named after it."""
        noise = Path(noise)
        stem = noise.with_suffix("")
        return cls(
            noise,
            Path(f"{stem}.classes.tif"),
            Path(f"{stem}.probs.tif") if options.probabilities else None,
            Path(f"{stem}.quicklook.png") if options.quicklook else None,
        )

    def files(self) -> list[Path]:
        """Every file of the scene, the noise map first."""
        return [p for p in (self.noise, self.classes, self.probabilities, self.quicklook) if p]

    def styles(self) -> list[Path]:
        """The QGIS styles written beside the rasters (:func:`geonoise.io.styles.style_path`)."""
        from geonoise.io.styles import style_path

        return [style_path(p) for p in (self.noise, self.classes, self.probabilities) if p]

    def check(self, overwrite: bool) -> None:
        """Refuse before any work when an output exists (unless ``overwrite``)."""
        for path in self.files():
            io.check_output(path, overwrite)


@dataclass
class ScratchRasters:
    """The intermediate GeoTIFFs of one scene (uncompressed; compressed when copied to COG)."""

    folder: Path
    noise: DatasetWriter
    classes: DatasetWriter
    probs: DatasetWriter | None

    @classmethod
    def create(
        cls, folder: Path, scene: DatasetReader, meta: ModelMeta, keep_probs: bool
    ) -> ScratchRasters:
        """Open the scratch rasters of ``scene`` in ``folder`` (probabilities if ``keep_probs``)."""

        def raster(name: str, count: int, dtype: str, nodata: float, bands: list[str]):
            return io.create_raster(
                folder / name,
                width=scene.width,
                height=scene.height,
                count=count,
                dtype=dtype,
                crs=scene.crs,
                transform=scene.transform,
                nodata=nodata,
                descriptions=bands,
                creation_options=SCRATCH_OPTIONS,
            )

        noise = raster("noise.tif", 1, "float32", NODATA, ["noise_score"])
        classes = raster("classes.tif", 2, "uint8", IGNORE, ["label", "predicted"])
        probs = None
        if keep_probs:
            names = [f"p({n})" for n in meta.class_names]
            probs = raster("probs.tif", meta.num_classes, "float32", NODATA, names)
        return cls(folder, noise, classes, probs)

    def close(self) -> None:
        for dataset in (self.noise, self.classes, self.probs):
            if dataset is not None:
                dataset.close()


def publish(
    outputs: SceneOutputs,
    scratch: Path,
    noise_source: Path,
    scene_path: str,
    meta: ModelMeta,
    options: DetectOptions,
    overwrite: bool,
) -> None:
    """COG copies of the scratch rasters moved into place, their QGIS styles, the quicklook."""
    from geonoise.io.styles import raster_style

    copies = [
        (outputs.noise, noise_source, "average"),
        (outputs.classes, scratch / "classes.tif", "nearest"),
    ]
    if outputs.probabilities is not None:
        copies.append((outputs.probabilities, scratch / "probs.tif", "average"))
    with ExitStack() as stack:
        for final, source, resampling in copies:
            tmp = stack.enter_context(io.atomic_output(final, overwrite))
            io.write_cog(
                source, tmp, resampling=resampling, creation_options=options.creation_options
            )
    raster_style(outputs.noise, "noise_score")
    raster_style(outputs.classes, "classes", meta.class_names, meta.values)
    if outputs.probabilities is not None:
        raster_style(outputs.probabilities, "probabilities", meta.class_names)
    if outputs.quicklook is not None:
        from geonoise.io.plots import quicklook

        with io.atomic_output(outputs.quicklook, overwrite) as tmp:
            quicklook(scene_path, outputs.noise, outputs.classes, tmp)
