"""How ``detect`` scores: window, overlap, batch, noise score, TTA and the outputs asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from geonoise.detection.scores import METHODS, Method
from geonoise.errors import InvalidInputError
from geonoise.models.inference import Predictor


@dataclass(frozen=True)
class DetectOptions:
    """How a scene (or a tile) is scored.

    Attributes:
        window: Window edge in pixels (a multiple of the model's); None = the model's tile size.
        overlap: Pixels shared by neighbouring windows, blended with cosine weights;
            None = an eighth of the window.
        batch_size: Windows per model call.
        method: ``self-confidence`` or ``confident-learning``.
        tta: Average the eight D4 flips/rotations of each window (8× the model
            calls; the default, as it raised pixel AP by 0.05 on average in the quality
            benchmark).
        probabilities: Also write the class probabilities.
        quicklook: Write the PNG quicklook.
        class_field, all_touched, resample_labels: How labels are read (as for ``tile``).
        creation_options: GDAL creation options for the GeoTIFFs (``--co``).
    """

    window: int | None = None
    overlap: int | None = None
    batch_size: int = 4
    method: Method = "self-confidence"
    tta: bool = True
    probabilities: bool = False
    quicklook: bool = True
    class_field: str | None = None
    all_touched: bool = False
    resample_labels: bool = False
    creation_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidInputError(
                f"{self.method!r} is not one of {', '.join(METHODS)}", "--method"
            )

    @property
    def confident_learning(self) -> bool:
        """Whether scores need confident learning's per-class thresholds (a second pass)."""
        return self.method == "confident-learning"

    def window_for(self, predictor: Predictor, scene: tuple[int, int] | None = None) -> int:
        """The window edge for ``predictor``, checked against its size multiple.

        Args:
            scene: The scene's ``(width, height)``: a window larger than the scene
                (rounded up to the model's multiple) shrinks to it, as the scene
                holds no more to see, and memory grows with the window's square.
        """
        size = self.window or int(predictor.meta.tile_size)
        multiple = int(predictor.multiple)
        if size % multiple:
            raise InvalidInputError(
                f"{size} is not a multiple of {multiple}, which the model needs", "--window"
            )
        if not 0 <= self.overlap_for(size) < size:
            raise InvalidInputError(
                f"{self.overlap} must be ≥ 0 and below the window {size}", "--overlap"
            )
        if scene is not None:  # one window then covers the scene, whatever the overlap
            size = min(size, -(-max(scene) // multiple) * multiple)
        return size

    def overlap_for(self, size: int) -> int:
        """The overlap used with windows of ``size`` (below it, for a window shrunk to a scene)."""
        overlap = self.overlap if self.overlap is not None else size // 8
        return min(overlap, size - 1)
