"""Helpers of the vectorize tests: a known scene, noise and class rasters, running vectorize."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geonoise import io
from geonoise.vectorize.options import VectorizeOptions
from geonoise.vectorize.polygonize import vectorize
from tests.conftest import RES, write_scene

PIXEL_AREA = RES * RES  # m² of one 0.5 m pixel
SIZE = 60


def known_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise score, label and prediction of a 60×60 building map with three kinds of noise.

    * rows 5-14, cols 5-14: a building the label misses (label 0, model 1), score 0.9
      with one pixel at 1.0;
    * rows 5-14, cols 30-39: a labelled building the model does not see, score 0.8;
    * a building labelled at cols 10-29 that the model sees at cols 12-31 (rows 30-49):
      two 2-pixel slivers along its outline, score 0.7.
    """
    score = np.full((SIZE, SIZE), 0.1, dtype="float32")
    label = np.zeros((SIZE, SIZE), dtype="uint8")
    predicted = np.zeros((SIZE, SIZE), dtype="uint8")
    score[5:15, 5:15] = 0.9
    score[7, 7] = 1.0
    predicted[5:15, 5:15] = 1
    score[5:15, 30:40] = 0.8
    label[5:15, 30:40] = 1
    label[30:50, 10:30] = 1
    predicted[30:50, 12:32] = 1
    score[30:50, 10:12] = 0.7
    score[30:50, 30:32] = 0.7
    score[55:, 55:] = -1.0  # nodata
    score[0, 59] = np.nan
    label[0:3, 0:3] = 255
    return score, label, predicted


def write_noise(path: Path, score: np.ndarray, **kwargs: object) -> Path:
    """A noise map GeoTIFF of ``score`` (nodata -1); ``kwargs`` go to ``write_scene``."""
    return write_scene(
        path, score.shape[1], score.shape[0], data=score[None], nodata=-1.0, **kwargs
    )


def write_classes(path: Path, label: np.ndarray, predicted: np.ndarray, **kwargs: object) -> Path:
    """A class companion GeoTIFF: band 1 ``label``, band 2 ``predicted``."""
    data = np.stack([label, predicted])
    return write_scene(path, label.shape[1], label.shape[0], data=data, **kwargs)


@contextlib.contextmanager
def opened(*paths: Path | None) -> Iterator[list[rasterio.io.DatasetReader | None]]:
    """The rasters at ``paths`` opened (None stays None), closed on exit."""
    with contextlib.ExitStack() as stack:
        yield [None if p is None else stack.enter_context(io.open_scene(p)) for p in paths]


def run(noise: Path, classes: Path | None = None, **options: float) -> gpd.GeoDataFrame:
    """:func:`vectorize` on the files at these paths with these options."""
    with opened(noise, classes) as (noise_ds, classes_ds):
        return vectorize(noise_ds, classes_ds, VectorizeOptions(**options))


@pytest.fixture
def known(tmp_path: Path) -> tuple[Path, Path]:
    """The :func:`known_scene` written as ``noise.tif`` and ``noise.classes.tif``."""
    score, label, predicted = known_scene()
    return (
        write_noise(tmp_path / "noise.tif", score),
        write_classes(tmp_path / "noise.classes.tif", label, predicted),
    )


def assert_same_layers(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    """The same polygons (up to vertex order) and attributes, in the same order."""
    assert len(a) == len(b)
    ga, gb = shapely.normalize(a.geometry.values), shapely.normalize(b.geometry.values)
    assert shapely.equals_exact(ga, gb, 0).all()
    for column in ("id", "pixels", "kind"):
        assert list(a[column]) == list(b[column])
    for column in ("label_class", "predicted_class"):
        assert a[column].fillna(-1).tolist() == b[column].fillna(-1).tolist()
    for column in ("area", "mean_score", "max_score"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-9)
