"""Helpers of the fix tests: a small building map with a missing, a spurious, an unsure and an
agreed building, its noise map, class companion and labels as raster and vector files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from rasterio.transform import from_origin

from tests.conftest import CRS, ORIGIN, RES, write_scene
from tests.vectorize.conftest import write_classes, write_noise

SIZE = 40
#: (rows, cols) of the buildings: the label misses B, has A the model does not see, has C
#: the model doubts (score 0.6, below every threshold), and D that both see.
MISSING = (slice(5, 15), slice(5, 15))
SPURIOUS = (slice(5, 15), slice(20, 30))
UNSURE = (slice(25, 35), slice(5, 15))
AGREED = (slice(25, 35), slice(25, 35))
TRANSFORM = from_origin(*ORIGIN, RES, RES)


def building_map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise score, label and predicted class of the four buildings."""
    score = np.full((SIZE, SIZE), 0.05, dtype="float32")
    label = np.zeros((SIZE, SIZE), dtype="uint8")
    predicted = np.zeros((SIZE, SIZE), dtype="uint8")
    predicted[MISSING] = 1
    score[MISSING] = 0.95
    label[SPURIOUS] = 1
    score[SPURIOUS] = 0.97
    label[UNSURE] = 1
    score[UNSURE] = 0.6
    label[AGREED] = predicted[AGREED] = 1
    return score, label, predicted


def box_of(where: tuple[slice, slice]) -> shapely.Polygon:
    """The map polygon of a block of pixels."""
    rows, cols = where
    left, top = TRANSFORM @ (cols.start, rows.start)
    right, bottom = TRANSFORM @ (cols.stop, rows.stop)
    return shapely.box(left, bottom, right, top)


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    """The building map written in ``tmp_path`` (:func:`write_building_map`)."""
    return write_building_map(tmp_path)


def write_building_map(tmp_path: Path) -> dict[str, Path]:
    """The building map as files: noise.tif, noise.classes.tif, labels.tif, labels.gpkg."""
    score, label, predicted = building_map()
    labels = gpd.GeoDataFrame(
        {"class": [1, 1, 1], "name": ["A", "C", "D"]},
        geometry=[box_of(SPURIOUS), box_of(UNSURE), box_of(AGREED)],
        crs=CRS,
    )
    labels.to_file(tmp_path / "labels.gpkg", layer="buildings", engine="pyogrio")
    return {
        "noise": write_noise(tmp_path / "noise.tif", score),
        "classes": write_classes(tmp_path / "noise.classes.tif", label, predicted),
        "labels": write_scene(tmp_path / "labels.tif", SIZE, SIZE, data=label[None], nodata=255),
        "vector": tmp_path / "labels.gpkg",
    }


def set_status(review: Path, statuses: dict[str, str]) -> None:
    """Set the status of the changes of each kind, as a QGIS user would (layer rewritten with
    its metadata)."""
    layer = pyogrio.read_dataframe(review, layer="review")
    metadata = pyogrio.read_info(review, layer="review")["layer_metadata"]
    layer["status"] = [
        statuses.get(kind, status)
        for kind, status in zip(layer["kind"], layer["status"], strict=True)
    ]
    pyogrio.write_dataframe(layer, review, layer="review", layer_metadata=metadata)
