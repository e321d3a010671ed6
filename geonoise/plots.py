"""Pictures for people who would rather look than read: learning curves."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def read_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Lightning's CSV log folded to one row per epoch (train and validation rows merged)."""
    import pandas as pd

    table = pd.read_csv(path)
    return table.groupby("epoch", as_index=False).first()


def plot_curves(history: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Loss (train, validation) and validation IoU/F1 per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for column, label in (("train_loss", "train"), ("val_loss", "validation")):
        if column in history:
            rows = history.dropna(subset=[column])
            left.plot(rows["epoch"], rows[column], marker=".", label=label)
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    left.legend()
    for column in [c for c in history if c.startswith(("val_iou_", "val_f1_", "val_miou"))]:
        rows = history.dropna(subset=[column])
        right.plot(rows["epoch"], rows[column], marker=".", label=column.removeprefix("val_"))
    right.set(xlabel="epoch", ylabel="score", title="validation IoU / F1", ylim=(0, 1))
    right.legend(fontsize="small")
    fig.suptitle(title)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
