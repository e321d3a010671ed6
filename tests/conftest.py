"""Fixtures: small GeoTIFFs with a real CRS and transform, generated in tmp_path."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

#: UTM 33N, a plausible aerial scene origin and 0.5 m pixels.
CRS = "EPSG:32633"
ORIGIN = (500_000.0, 5_400_000.0)
RES = 0.5


def write_scene(
    path: Path,
    width: int,
    height: int,
    *,
    count: int = 3,
    dtype: str = "uint8",
    nodata: float | None = None,
    crs: str | None = CRS,
    origin: tuple[float, float] = ORIGIN,
    res: float = RES,
    seed: int = 0,
    data: np.ndarray | None = None,
) -> Path:
    """Write a random (or given) scene GeoTIFF and return its path."""
    if data is None:
        rng = np.random.default_rng(seed)
        data = rng.integers(1, 250, size=(count, height, width)).astype(dtype)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": data.shape[0],
        "dtype": str(data.dtype),
        "nodata": nodata,
    }
    if crs is not None:
        profile.update(crs=crs, transform=from_origin(*origin, res, res))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return path


@pytest.fixture
def scene_factory(tmp_path: Path):
    """Call with a file name and :func:`write_scene` keyword arguments."""

    def make(name: str = "scene.tif", width: int = 100, height: int = 80, **kwargs) -> Path:
        return write_scene(tmp_path / name, width, height, **kwargs)

    return make
