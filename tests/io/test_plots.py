"""Pictures: the quicklook paints scores as QGIS does, keeps the scene clear below the
threshold and says what it shows; curve and precision-recall titles say what is plotted."""

from __future__ import annotations

import io as bytes_io

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from geonoise.evaluation.run import evaluate_files
from geonoise.io.plots import (
    OUTLINE_COLOUR,
    curves_figure,
    curves_title,
    precision_recall_figure,
    quicklook,
    quicklook_figure,
    score_colormap,
)
from geonoise.io.styles import SCORE_RAMP
from tests.conftest import write_scene
from tests.evaluation.conftest import truth_mask, write_noise, write_truth

PNG = b"\x89PNG\r\n\x1a\n"
#: Score of each quarter of the test scene: below the threshold, on the ramp, nodata twice.
QUARTERS = {(0, 0): 0.3, (0, 1): 0.75, (1, 0): -1.0, (1, 1): np.nan}
SIZE = 40


def ramp_rgba(value: float) -> np.ndarray:
    """SCORE_RAMP interpolated linearly (as QGIS does), RGBA in 0..1."""
    values = [v for v, _, _ in SCORE_RAMP]
    channels = [[*rgb, alpha] for _, rgb, alpha in SCORE_RAMP]
    return np.array([np.interp(value, values, c) for c in zip(*channels, strict=True)]) / 255


def quarters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A white scene (a black top row, for the stretch), scores by quarter, a two-class label."""
    image = np.full((1, SIZE, SIZE), 200, "uint8")
    image[0, 0] = 0
    score = np.empty((SIZE, SIZE), "float32")
    half = SIZE // 2
    for (row, col), value in QUARTERS.items():
        score[row * half : (row + 1) * half, col * half : (col + 1) * half] = value
    label = np.zeros((SIZE, SIZE), "uint8")
    label[4:10, 4:10] = 1
    label[-2:] = 255
    return image, score, label


def rendered(fig) -> np.ndarray:
    """The figure as its PNG's RGB pixels (0..1)."""
    buffer = bytes_io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    buffer.seek(0)
    return imread(buffer)[..., :3]


def pixel(fig, png: np.ndarray, row: int, col: int) -> np.ndarray:
    """The PNG colour at the centre of scene pixel ``(row, col)``."""
    x, y = fig.axes[0].transData.transform((col, row))
    return png[int(png.shape[0] - y), int(x)]


@pytest.mark.parametrize(("value", "rgb", "alpha"), [*SCORE_RAMP, (0.625, None, None)])
def test_score_colours_are_the_qgis_ramp(value, rgb, alpha):
    expected = ramp_rgba(value)
    if rgb is not None:
        np.testing.assert_allclose(expected * 255, [*rgb, alpha])
    np.testing.assert_allclose(score_colormap()(value), expected, atol=1.5 / 255)


def test_quicklook_paints_the_ramp_over_the_scene_and_leaves_the_rest_clear():
    fig = quicklook_figure(*quarters(), threshold=0.5, title="scene.tif")
    png = rendered(fig)
    white = np.ones(3)
    ramp = ramp_rgba(0.75)
    over_white = ramp[3] * ramp[:3] + (1 - ramp[3]) * white
    np.testing.assert_allclose(pixel(fig, png, 15, 30), over_white, atol=3 / 255)
    for row, col in ((15, 15), (30, 10), (30, 30)):  # below the threshold, nodata, NaN
        np.testing.assert_allclose(pixel(fig, png, row, col), white, atol=1 / 255)


def test_the_threshold_decides_what_is_painted():
    image, score, label = quarters()
    low = quicklook_figure(image, score, label, threshold=0.2)
    png = rendered(low)
    assert not np.allclose(pixel(low, png, 15, 15), 1, atol=3 / 255)  # 0.3 is now painted
    for edge in (0.0, 1.0):
        assert rendered(quicklook_figure(image, score, label, threshold=edge)).size


def test_quicklook_has_a_title_a_colour_key_and_a_legend_for_the_outlines():
    fig = quicklook_figure(*quarters(), threshold=0.5, title="scene.tif")
    title = fig.get_suptitle()
    assert "scene.tif" in title and "0.5" in title
    scene, key = fig.axes  # the scene, then the colour key
    assert "noise score" in key.get_xlabel() and key.get_xlim() == (0.0, 1.0)
    (veil,) = key.patches  # over the scores that are not drawn
    assert veil.get_x() == 0 and veil.get_width() == 0.5
    (legend,) = fig.legends
    (outline,) = legend.get_lines()
    assert outline.get_label() == "label outline (class boundary)"
    assert to_rgb(outline.get_color()) == to_rgb(OUTLINE_COLOUR)
    assert scene.collections  # the outlines are drawn


def test_outline_colour_is_off_the_score_ramp():
    outline = np.array(to_rgb(OUTLINE_COLOUR))
    ramp = np.array([ramp_rgba(v)[:3] for v in np.linspace(0, 1, 101)])
    assert np.abs(ramp - outline).sum(axis=1).min() > 1.0


def test_a_small_scene_is_enlarged_by_a_whole_factor():
    fig = quicklook_figure(*quarters())
    png = rendered(fig)
    left, bottom = fig.axes[0].transData.transform((-0.5, SIZE - 0.5))
    right, top = fig.axes[0].transData.transform((SIZE - 0.5, -0.5))
    assert (right - left, top - bottom) == pytest.approx((SIZE * 12, SIZE * 12))
    assert png.shape[0] > SIZE * 12  # room above and below for the title, key and legend


def test_quicklook_writes_a_png_with_room_for_title_and_key(tmp_path):
    rng = np.random.default_rng(0)
    scene = write_scene(tmp_path / "scene.tif", 64, 48)
    score = rng.random((48, 64)).astype("float32")
    noise = write_scene(tmp_path / "noise.tif", 64, 48, data=score[None], nodata=-1.0)
    label = rng.integers(0, 2, (1, 48, 64)).astype("uint8")
    classes = write_scene(tmp_path / "noise.classes.tif", 64, 48, data=label)
    quicklook(scene, noise, classes, tmp_path / "q.png")
    assert (tmp_path / "q.png").read_bytes()[:8] == PNG
    height, width, _ = imread(tmp_path / "q.png").shape
    assert width == 64 * 8 and height > 48 * 8


def test_curve_titles_name_the_model_once():
    title = curves_title("teacher", "teacher.ckpt")
    assert title == "Learning curves of teacher.ckpt (teacher model)"
    history = pd.DataFrame(
        {"step": [10, 20], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_miou": [0.4, 0.7]}
    )
    assert curves_figure(history, title).get_suptitle() == title


def test_precision_recall_title_says_what_against_which_truth_with_ap():
    fig = precision_recall_figure(
        [0.5, 1.0], [1.0, 0.5], average_precision=0.75, base_rate=0.1, noise="n.tif", truth="t.tif"
    )
    title = fig.axes[0].get_title()
    assert "n.tif against the truth t.tif" in title and "AP 0.750" in title


def test_evaluate_titles_its_plot_with_the_noise_map_and_the_truth(tmp_path, monkeypatch):
    import geonoise.io.plots

    figures = []

    def save(fig, path):
        figures.append(fig)
        fig.savefig(path, format="png")

    monkeypatch.setattr(geonoise.io.plots, "_save", save)
    truth = truth_mask()
    noise = write_noise(tmp_path / "noise.tif", truth.astype(float))
    evaluate_files(noise, write_truth(tmp_path / "truth.tif", truth), plot=tmp_path / "pr.png")
    (fig,) = figures
    assert "noise.tif against the truth truth.tif" in fig.axes[0].get_title()
