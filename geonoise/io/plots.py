"""Pictures for people who would rather look than read: learning curves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def read_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Lightning's CSV log folded to one row per validation (train and validation rows merged).

    A Lightning epoch is the steps between two validations; ``step`` is the optimizer
    step at which it ended.
    """
    import pandas as pd

    table = pd.read_csv(path)
    return table.groupby("epoch", as_index=False).first()


def plot_curves(history: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Loss (train, validation) and validation IoU/F1 against the optimizer step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
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
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def quicklook(
    scene: str | os.PathLike,
    noise: str | os.PathLike,
    classes: str | os.PathLike,
    path: str | os.PathLike,
    max_size: int = 1024,
) -> None:
    """A PNG of the scene with the label outlines and the noise score laid over it.

    Rasters are read decimated (from their overviews where they have them), so
    a quicklook of a huge scene costs little memory.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    image = _decimated(scene, max_size, "bilinear")
    score = _decimated(noise, max_size, "average", bands=[1])[0]
    label = _decimated(classes, max_size, "nearest", bands=[1])[0]
    height, width = score.shape
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    axes = fig.add_axes((0, 0, 1, 1))
    axes.imshow(_stretch(image), interpolation="nearest")
    known = np.where(label == 255, np.nan, label.astype(float))
    if np.isfinite(known).any() and np.nanmax(known) > np.nanmin(known):
        axes.contour(
            known,
            levels=np.arange(np.nanmin(known), np.nanmax(known)) + 0.5,
            colors="cyan",
            linewidths=0.6,
        )
    overlay = np.ma.masked_where(~(score > 0.5), score)
    axes.imshow(overlay, cmap="spring", vmin=0.5, vmax=1, alpha=0.6, interpolation="nearest")
    axes.set_axis_off()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


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
    title: str = "",
) -> None:
    """A precision-recall curve as a PNG, with the no-skill line and the best-F1 point.

    Args:
        recall: Recall at each threshold, from the highest threshold down.
        precision: Precision at the same thresholds.
        path: The PNG to write (the caller makes it atomic).
        average_precision: Shown in the legend.
        base_rate: Share of positives: the precision of a map that knows nothing.
        best: ``(recall, precision, threshold)`` of the best F1, marked on the curve.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
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
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
