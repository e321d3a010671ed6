"""Shared test helpers: small GeoTIFFs with a real CRS and transform, stand-in and tiny
random models, and the CLI runner. Tests of one package keep their own helpers in the
package's conftest.py."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner, Result
from hypothesis import settings
from rasterio.transform import from_origin

from geonoise.cli.main import cli
from geonoise.models.checkpoint import ModelMeta, save_model
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config

# Property tests have no per-example deadline: CI machines are shared and their timings
# jump (a window-grid example once took 296 ms), which says nothing about correctness.
settings.register_profile("geonoise", deadline=None)
settings.load_profile("geonoise")

#: UTM 33N, a plausible aerial scene origin and 0.5 m pixels.
CRS = "EPSG:32633"
ORIGIN = (500_000.0, 5_400_000.0)
RES = 0.5
#: Real data kept in the tests (see fixtures/README.md).
FIXTURES = Path(__file__).parent / "fixtures"
LANDSAT = FIXTURES / "L7_ETMs.tif"


def run_cli(*args: object) -> Result:
    """Invoke the ``geonoise`` group with ``args`` (converted to strings) through CliRunner."""
    return CliRunner().invoke(cli, [str(a) for a in args])


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


class PixelModel:
    """A stand-in model whose building probability is band 1 / 255, pixel by pixel.

    Every window sees the same value at a pixel, so any blending of overlapping
    windows must give exactly that value: seams, gaps or shifted windows show.
    """

    multiple = 8

    def __init__(self, bands: int = 3, tile_size: int = 32) -> None:
        self.meta = ModelMeta(
            model=model_config("tiny", in_channels=bands).to_dict(),
            class_names=["background", "building"],
            band_mean=[0.0] * bands,
            band_std=[1.0] * bands,
            tile_size=tile_size,
        )
        self.calls = 0

    def predict(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        building = image[:, 0] / 255.0
        return np.stack([1 - building, building], axis=1).astype(np.float32)


def scene_with_labels(tmp_path: Path, width: int, height: int, nodata_corner: bool = True):
    rng = np.random.default_rng(3)
    data = rng.integers(1, 255, (3, height, width)).astype("uint8")
    if nodata_corner:
        data[:, :7, :9] = 0
    scene = write_scene(tmp_path / "scene.tif", width, height, data=data, nodata=0)
    label = rng.integers(0, 2, (1, height, width)).astype("uint8")
    label[0, -3:, :] = 255  # an unlabelled strip
    labels = write_scene(tmp_path / "labels.tif", width, height, data=label)
    return scene, labels, data, label[0]


#: The model of make_model_file: bands, classes and its normalisation.
BANDS, CLASSES = 4, 3
MEAN, STD = [90.0, 100.0, 110.0, 120.0], [20.0, 30.0, 40.0, 50.0]
#: MEAN and STD shaped to broadcast over (N, bands, H, W).
MEAN_PX = np.asarray(MEAN, np.float32)[:, None, None]


STD_PX = np.asarray(STD, np.float32)[:, None, None]


def make_model_file(path: Path, seed: int = 0) -> Path:
    """A tiny NRN-RSSEG with random weights (4 bands, 3 classes) saved as a model file."""
    torch.manual_seed(seed)
    config = model_config("tiny", in_channels=BANDS, num_classes=CLASSES)
    model = NRNRSSEG(config)
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["background", "building", "road"],
        band_mean=MEAN,
        band_std=STD,
        tile_size=64,
        role="student",
        training={"preset": "tiny", "epochs": 1},
    )
    save_model(path, model, meta)
    return path


def raw_pixels(batch: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Raw pixel values spread like the model's training data."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((batch, BANDS, height, width), dtype=np.float32)
    return MEAN_PX + 2 * STD_PX * noise


def one_line_error(result: Result, code: int, *fragments: str) -> None:
    """``result`` failed with exit ``code``: one ``Error:`` line, its last, naming ``fragments``."""
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: "), result.stderr
    assert result.stderr.rstrip().endswith(errors[0])  # the last line (after any progress bar)
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.output
