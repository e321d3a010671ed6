"""Pictures for people who would rather look than read: learning curves, the
precision-recall curve of an evaluation, and the quicklook of a noise map.

Each picture is built as a :class:`~matplotlib.figure.Figure` by a ``*_figure``
function (no pyplot state, so tests can look inside it) and saved as a PNG.
The quicklook paints the noise score with the QGIS style's ramp
(:data:`geonoise.io.styles.SCORE_RAMP`), so the PNG and the layer in QGIS agree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise.contracts import IGNORE, SUSPECT_THRESHOLD
from geonoise.io.styles import score_ramp

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

#: Colour of the label outlines in the quicklook: cyan with a black edge, off the
#: yellow → red score ramp and visible on bright roofs and dark ground alike.
OUTLINE_COLOUR = "#00ffff"
#: Smallest edge (pixels) the quicklook's scene is drawn at: small scenes are
#: enlarged by a whole factor so the title, key and legend fit beside them.
MIN_EDGE = 512
#: Bands of the quicklook around the scene (pixels): title above, key and legend below.
TITLE_BAND, KEY_BAND = 48, 64


def read_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Lightning's CSV log folded to one row per validation (train and validation rows merged).

    A Lightning epoch is the steps between two validations; ``step`` is the optimizer
    step at which it ended.
    """
    import pandas as pd

    table = pd.read_csv(path)
    return table.groupby("epoch", as_index=False).first()


def curves_title(role: str, model: str) -> str:
    """A model's learning-curve title: ``Learning curves of teacher.ckpt (teacher model)``."""
    return f"Learning curves of {model} ({role} model)"


def plot_curves(history: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Loss (train, validation) and validation IoU/F1 against the optimizer step, as a PNG."""
    _save(curves_figure(history, title), path)


def curves_figure(history: pd.DataFrame, title: str = "") -> Figure:
    """The figure of :func:`plot_curves`: loss on the left, validation scores on the right."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    x, xlabel = ("step", "optimizer step") if "step" in history else ("epoch", "epoch")
    for column, label in (("train_loss", "train"), ("val_loss", "validation")):
        if column in history:
            rows = history.dropna(subset=[column])
            left.plot(rows[x], rows[column], marker=".", label=label)
    left.set(xlabel=xlabel, ylabel="loss", title="loss")
    left.legend()
    for column in [c for c in history if c.startswith(("val_iou_", "val_f1_", "val_miou"))]:
        rows = history.dropna(subset=[column])
        right.plot(rows[x], rows[column], marker=".", label=column.removeprefix("val_"))
    right.set(xlabel=xlabel, ylabel="score", title="validation IoU / F1", ylim=(0, 1))
    right.legend(fontsize="small")
    fig.suptitle(title)
    return fig


def score_colormap(threshold: float = SUSPECT_THRESHOLD) -> Colormap:
    """The QGIS style's noise-score ramp (colours and alpha) as a colormap over 0..1.

    Masked values (nodata, scores below the threshold) are transparent.
    """
    from matplotlib.colors import LinearSegmentedColormap

    ramp = score_ramp(threshold)
    stops = [(value, (*(c / 255 for c in rgb), alpha / 255)) for value, rgb, alpha in ramp]
    colormap = LinearSegmentedColormap.from_list("geonoise_score", stops)
    return colormap.with_extremes(bad=(0, 0, 0, 0))


def quicklook(
    scene: str | os.PathLike,
    noise: str | os.PathLike,
    classes: str | os.PathLike,
    path: str | os.PathLike,
    max_size: int = 1024,
    *,
    threshold: float = SUSPECT_THRESHOLD,
) -> None:
    """A PNG of the scene with the label outlines and the suspect noise scores laid over it.

    Rasters are read decimated (from their overviews where they have them), so
    a quicklook of a huge scene costs little memory.

    Args:
        scene: The scene (its first three bands, or its only one, are shown).
        noise: The noise map (band 1).
        classes: The class raster of ``detect`` (band 1, the given label, is outlined).
        path: The PNG to write (the caller makes it atomic).
        max_size: Longest edge, in pixels, the rasters are read at.
        threshold: Scores below it are not drawn, so the scene stays clear where
            the model agrees with the label (``vectorize``'s default threshold).
    """
    image = _decimated(scene, max_size, "bilinear")
    score = _decimated(noise, max_size, "average", bands=[1])[0]
    label = _decimated(classes, max_size, "nearest", bands=[1])[0]
    title = f"{Path(scene).name}: suspected label noise ({Path(noise).name})"
    _save(quicklook_figure(image, score, label, threshold=threshold, title=title), path)


def quicklook_figure(
    image: np.ndarray,
    score: np.ndarray,
    label: np.ndarray,
    *,
    threshold: float = SUSPECT_THRESHOLD,
    title: str = "",
) -> Figure:
    """The figure of :func:`quicklook`: the scene at a whole zoom, a title, a key and a legend.

    Args:
        image: Scene bands (1 or 3, any dtype), shape ``(bands, height, width)``.
        score: Noise score, ``(height, width)``; NaN or negative is nodata.
        label: Given label, ``(height, width)``; 255 is ignore.
        threshold: Scores below it are transparent.
        title: First line of the title (the second says what is shown).

    Returns:
        A figure whose scene axes (the first) map one scene pixel to ``zoom²`` PNG pixels.
    """
    import numpy as np
    from matplotlib.figure import Figure

    height, width = score.shape
    zoom = max(1, MIN_EDGE // max(height, width))
    fig_width, fig_height = max(width * zoom, MIN_EDGE), height * zoom + TITLE_BAND + KEY_BAND
    fig = Figure(figsize=(fig_width / 100, fig_height / 100), dpi=100)
    axes = fig.add_axes(
        (
            (fig_width - width * zoom) / 2 / fig_width,
            KEY_BAND / fig_height,
            width * zoom / fig_width,
            height * zoom / fig_height,
        )
    )
    axes.imshow(_stretch(image), interpolation="nearest")
    outlined = _outline(axes, label)
    suspect = np.ma.masked_where(~(score >= threshold), score)  # NaN compares False
    painted = axes.imshow(
        suspect, cmap=score_colormap(threshold), vmin=0, vmax=1, interpolation="nearest"
    )
    axes.set_axis_off()
    fig.suptitle(
        f"{title}\nnoise score ≥ {threshold:g} over the label outlines",
        y=1 - 4 / fig_height,
        va="top",
        fontsize="medium",
    )
    _key(fig, painted, threshold, (fig_width, fig_height))
    if outlined:
        fig.legend(
            handles=[outlined],
            loc="lower right",
            bbox_to_anchor=(1 - 8 / fig_width, 8 / fig_height),
            fontsize="small",
            frameon=False,
        )
    return fig


def _outline(axes, label: np.ndarray):
    """Draw the class boundaries of ``label``; return the legend handle, None if there are none."""
    import numpy as np
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    known = np.where(label == IGNORE, np.nan, label.astype(float))
    if not np.isfinite(known).any() or np.nanmax(known) == np.nanmin(known):
        return None
    edge = [patheffects.withStroke(linewidth=1.8, foreground="black")]
    axes.contour(
        known,
        levels=np.arange(np.nanmin(known), np.nanmax(known)) + 0.5,
        colors=OUTLINE_COLOUR,
        linewidths=0.7,
    ).set_path_effects(edge)
    return Line2D(
        [],
        [],
        color=OUTLINE_COLOUR,
        linewidth=1.2,
        path_effects=edge,
        label="label outline (class boundary)",
    )


def _key(fig: Figure, painted, threshold: float, size: tuple[int, int]) -> None:
    """The colour key of the noise score over 0..1, veiled below ``threshold`` (not drawn)."""
    fig_width, fig_height = size
    key = fig.add_axes((24 / fig_width, 36 / fig_height, 0.4, 12 / fig_height))
    bar = fig.colorbar(painted, cax=key, orientation="horizontal")
    key.axvspan(0, threshold, facecolor="white", edgecolor="grey", hatch="////", linewidth=0)
    bar.set_ticks(sorted({0.0, round(threshold, 2), 1.0}))
    key.tick_params(labelsize="small")
    bar.set_label(f"noise score (below {threshold:g}: not drawn)", fontsize="small", labelpad=2)
    key.xaxis.set_label_position("top")


def _decimated(
    path: str | os.PathLike, max_size: int, resampling: str, bands: list[int] | None = None
):
    from rasterio.enums import Resampling

    from geonoise import io

    with io.open_raster(path) as src:
        scale = max(src.width, src.height) / max_size
        shape = (
            max(1, round(src.height / max(scale, 1))),
            max(1, round(src.width / max(scale, 1))),
        )
        indexes = bands or list(range(1, min(src.count, 3) + 1))
        return src.read(
            indexes,
            out_shape=(len(indexes), *shape),
            resampling=Resampling[resampling],
            masked=False,
        )


def _stretch(image):
    """Bands (1 or 3) to an RGB float image in 0..1, 2–98 % percentile stretch per band."""
    import numpy as np

    data = image.astype(np.float32)
    low = np.percentile(data, 2, axis=(1, 2), keepdims=True)
    high = np.percentile(data, 98, axis=(1, 2), keepdims=True)
    data = np.clip((data - low) / np.maximum(high - low, 1e-6), 0, 1)
    if data.shape[0] == 1:
        data = np.repeat(data, 3, axis=0)
    return data.transpose(1, 2, 0)


def plot_precision_recall(
    recall: Sequence[float],
    precision: Sequence[float],
    path: str | os.PathLike,
    *,
    average_precision: float,
    base_rate: float,
    best: tuple[float, float, float] | None = None,
    noise: str = "",
    truth: str = "",
) -> None:
    """A precision-recall curve as a PNG, with the no-skill line and the best-F1 point.

    Args:
        recall: Recall at each threshold, from the highest threshold down.
        precision: Precision at the same thresholds.
        path: The PNG to write (the caller makes it atomic).
        average_precision: Shown in the title and the legend.
        base_rate: Share of positives: the precision of a map that knows nothing.
        best: ``(recall, precision, threshold)`` of the best F1, marked on the curve.
        noise: Name of the noise map scored (in the title).
        truth: Name of the truth it was scored against (in the title).
    """
    _save(
        precision_recall_figure(
            recall,
            precision,
            average_precision=average_precision,
            base_rate=base_rate,
            best=best,
            noise=noise,
            truth=truth,
        ),
        path,
    )


def precision_recall_figure(
    recall: Sequence[float],
    precision: Sequence[float],
    *,
    average_precision: float,
    base_rate: float,
    best: tuple[float, float, float] | None = None,
    noise: str = "",
    truth: str = "",
) -> Figure:
    """The figure of :func:`plot_precision_recall`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 5), layout="constrained")
    axes = fig.subplots()
    axes.plot(
        [0, *recall],
        [1 if len(precision) == 0 else precision[0], *precision],
        drawstyle="steps-pre",  # precision P_n over (R_n-1, R_n]: the area is the AP
        label=f"noise score (AP {average_precision:.3f})",
    )
    axes.axhline(base_rate, color="grey", linestyle="--", label=f"no skill ({base_rate:.3f})")
    if best is not None:
        r, p, threshold = best
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        axes.plot(r, p, "o", color="C3", label=f"best F1 {f1:.3f} at score ≥ {threshold:.3g}")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axes.set_title(_precision_recall_title(noise, truth, average_precision), fontsize="medium")
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    return fig


def _precision_recall_title(noise: str, truth: str, average_precision: float) -> str:
    scored = f"{noise or 'noise map'} against the truth {truth}".rstrip()
    return f"Noisy-label pixels: precision–recall, AP {average_precision:.3f}\n{scored}"


def _save(fig: Figure, path: str | os.PathLike) -> None:
    fig.savefig(path, dpi=100, format="png")
