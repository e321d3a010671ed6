"""The real Landsat 7 subset end to end: detect (checkpoint and ONNX), then vectorize.

The scene (6 bands, 349 × 352 pixels of 28.5 m, EPSG:31985) has no labels, so
the test labels it by a vegetation index (NIR band 4 against red band 3), a
real class map with real edges. The model has random weights: this checks that
six bands, an odd size and a real projected CRS go through every step with the
grid intact, not how good the map is.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
import torch

from geonoise.models.checkpoint import ModelMeta, save_model
from geonoise.models.export import export_onnx
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from tests.conftest import LANDSAT
from tests.conftest import run_cli as run


@pytest.fixture(scope="module")
def landsat(tmp_path_factory):
    """The scene, its NDVI labels (1 = vegetation, 255 = unlabelled) and a random model."""
    folder = tmp_path_factory.mktemp("landsat")
    with rasterio.open(LANDSAT) as src:
        pixels = src.read().astype(np.float64)
        profile = src.profile
    red, nir = pixels[2], pixels[3]
    total = nir + red
    ndvi = np.divide(nir - red, total, out=np.zeros_like(total), where=total > 0)
    label = np.where(total > 0, (ndvi > 0.2).astype(np.uint8), 255).astype(np.uint8)
    label[:20] = 255  # an unlabelled strip (the scene itself has no nodata)
    labels = folder / "ndvi_labels.tif"
    profile.update(count=1, dtype="uint8", nodata=255)
    with rasterio.open(labels, "w", **profile) as dst:
        dst.write(label[None])
    torch.manual_seed(0)
    config = model_config("tiny", in_channels=6, num_classes=2)
    meta = ModelMeta(
        model=config.to_dict(),
        class_names=["other", "vegetation"],
        band_mean=pixels.reshape(6, -1).mean(1).tolist(),
        band_std=pixels.reshape(6, -1).std(1).tolist(),
        tile_size=64,
    )
    checkpoint = folder / "landsat.ckpt"
    save_model(checkpoint, NRNRSSEG(config).eval(), meta)
    onnx = folder / "landsat.onnx"
    export_onnx(checkpoint, onnx)
    return folder, labels, label, checkpoint, onnx


def test_detect_keeps_the_grid_and_the_backends_agree(landsat):
    folder, labels, label, checkpoint, onnx = landsat
    maps = {}
    for model in (checkpoint, onnx):
        out = folder / f"noise_{model.suffix[1:]}.tif"
        result = run(
            "-q", "detect", LANDSAT, "-l", labels, "-m", model, "-o", out,
            "--window", 64, "--overlap", 16, "--no-tta", "--no-quicklook", "--overwrite",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        with rasterio.open(LANDSAT) as src, rasterio.open(out) as noise:
            assert noise.crs.to_epsg() == 31985
            assert (noise.width, noise.height) == (src.width, src.height) == (349, 352)
            assert noise.transform == src.transform
            maps[model.suffix] = noise.read(1)
        with rasterio.open(out.with_name(f"{out.stem}.classes.tif")) as classes:
            np.testing.assert_array_equal(classes.read(1), label)
    torch_map, onnx_map = maps[".ckpt"], maps[".onnx"]
    np.testing.assert_array_equal(torch_map == -1, label == 255)  # nodata where unlabelled
    scored = label != 255
    assert np.all((onnx_map[scored] >= 0) & (onnx_map[scored] <= 1))
    np.testing.assert_allclose(onnx_map[scored], torch_map[scored], atol=1e-4)


def test_vectorize_puts_polygons_on_the_scene_in_its_crs(landsat):
    folder, labels, _, _, onnx = landsat
    noise = folder / "noise_v.tif"
    result = run(
        "-q", "detect", LANDSAT, "-l", labels, "-m", onnx, "-o", noise,
        "--window", 64, "--overlap", 16, "--no-tta", "--no-quicklook",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with rasterio.open(noise) as src:
        score = src.read(1)
        bounds = shapely.box(*src.bounds)
    threshold = float(np.quantile(score[score >= 0], 0.9))  # random weights: the top tenth
    polygons = folder / "suspects.gpkg"
    result = run("-q", "vectorize", noise, "-o", polygons, "--threshold", threshold)
    assert result.exit_code == 0, result.output
    layer = pyogrio.read_dataframe(polygons, layer="noise")
    assert layer.crs.to_epsg() == 31985 and len(layer) > 0
    assert shapely.contains(bounds, layer.geometry.values).all()
    assert shapely.is_valid(layer.geometry.values).all()
    # every suspect pixel is in one polygon; 28.5 m pixels
    assert layer["pixels"].sum() == np.count_nonzero(score >= threshold)
    np.testing.assert_allclose(layer["area"], layer["pixels"] * 28.5**2, rtol=1e-9)
    assert set(layer["kind"]) <= {"missing", "spurious", "boundary", "unknown"}
