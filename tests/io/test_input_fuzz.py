"""A seeded, bounded fuzz of the raster and vector inputs of ``geonoise tile``.

A tiny valid scene, label raster, GeoPackage and GeoJSON are mutated (truncated,
header bytes flipped, replaced by random bytes, absurd sizes written into the
TIFF header, wrong data types, NaN geotransforms, no or a local CRS) and each
mutant is tiled through the CLI. Whatever the damage, the command must end in
one ``Error:`` line with exit 1 or 2 (or succeed where the damage was harmless),
never "unexpected" or a traceback, and leave nothing behind in the output folder.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely import box

from tests.conftest import CRS, ORIGIN, write_scene
from tests.conftest import run_cli as run
from tests.robustness.mutations import (
    assert_one_clean_error,
    flipped,
    random_bytes,
    tiff_size,
    truncated,
)

SEED = 11
WIDTH, HEIGHT = 64, 48
LOCAL_CRS = 'LOCAL_CS["Site",LOCAL_DATUM["Site",0],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'

#: A mutation: (case id, which input it damages, bytes of the valid input -> bytes of the mutant).
Mutation = tuple[str, str, Callable[[bytes], bytes]]


def byte_mutations() -> list[Mutation]:
    """Damage to the bytes of each input: 4 inputs × 24 mutations."""
    mutations: list[Mutation] = []
    for role in ("scene", "labels_tif", "labels_gpkg", "labels_geojson"):
        for fraction in (0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            mutations.append((f"{role}-truncated-{fraction}", role, truncated(fraction)))
        for seed in range(10):
            count = 1 + seed % 4
            mutations.append((f"{role}-flip{count}-{seed}", role, flipped(SEED + seed, count, 512)))
        for seed, size in enumerate((1, 16, 300, 5000, 70_000, 200)):
            mutations.append((f"{role}-random-{size}", role, random_bytes(SEED + seed, size)))
    return mutations


ABSURD_SIZES = [
    (10**6, 10**6),
    (0, HEIGHT),
    (WIDTH, 0),
    (2**31 - 1, 1),
    (1, 2**32 - 1),
    (2**32 - 1, 2**32 - 1),
    (WIDTH * 1000, HEIGHT),
]


def header_mutations() -> list[Mutation]:
    """Absurd sizes written into the scene's and the label raster's TIFF header."""
    return [
        (f"{role}-size-{w}x{h}", role, tiff_size(w, h))
        for role in ("scene", "labels_tif")
        for w, h in ABSURD_SIZES
    ]


def semantic_cases(folder: Path) -> list[tuple[str, Path, Path | None]]:
    """Well-formed files with wrong content: data types, geotransforms, CRSs, features."""
    rng = np.random.default_rng(SEED)
    scene = write_scene(folder / "scene.tif", WIDTH, HEIGHT)

    def raster(name: str, data: np.ndarray, **kwargs) -> Path:
        return write_scene(folder / name, WIDTH, HEIGHT, data=data, **kwargs)

    def vector(name: str, frame: gpd.GeoDataFrame) -> Path:
        frame.to_file(folder / name)
        return folder / name

    def geotransform(name: str, transform: Affine) -> Path:
        path = raster(name, rng.integers(1, 250, (3, HEIGHT, WIDTH)).astype("uint8"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path, "r+") as dst:
                dst.transform = transform
        return path

    footprint = box(*ORIGIN, ORIGIN[0] + 10, ORIGIN[1] - 10)
    nan, inf = float("nan"), float("inf")
    return [
        (
            "labels-int8-negative",
            scene,
            raster("i8.tif", rng.integers(-3, 2, (1, HEIGHT, WIDTH)).astype("int8")),
        ),
        ("labels-uint16-300", scene, raster("u16.tif", np.full((1, HEIGHT, WIDTH), 300, "uint16"))),
        (
            "labels-float-halves",
            scene,
            raster("half.tif", np.full((1, HEIGHT, WIDTH), 0.5, "float32")),
        ),
        ("labels-complex", scene, raster("cx.tif", np.ones((1, HEIGHT, WIDTH), "complex64"))),
        (
            "labels-no-crs",
            scene,
            raster("nocrs.tif", np.ones((1, HEIGHT, WIDTH), "uint8"), crs=None),
        ),
        (
            "labels-local-crs",
            scene,
            raster("local.tif", np.ones((1, HEIGHT, WIDTH), "uint8"), crs=LOCAL_CRS),
        ),
        (
            "labels-elsewhere",
            scene,
            raster("far.tif", np.ones((1, HEIGHT, WIDTH), "uint8"), origin=(0.0, 0.0)),
        ),
        ("scene-complex", raster("cxscene.tif", np.ones((3, HEIGHT, WIDTH), "complex64")), None),
        ("scene-no-crs", raster("bare.tif", np.ones((3, HEIGHT, WIDTH), "uint8"), crs=None), None),
        (
            "scene-all-nodata",
            raster("empty.tif", np.zeros((3, HEIGHT, WIDTH), "uint8"), nodata=0),
            None,
        ),
        (
            "scene-nan-pixel",
            geotransform("nanpx.tif", Affine(nan, 0, ORIGIN[0], 0, -0.5, ORIGIN[1])),
            None,
        ),
        (
            "scene-nan-origin",
            geotransform("nanor.tif", Affine(0.5, 0, ORIGIN[0], 0, -0.5, nan)),
            None,
        ),
        (
            "scene-inf-origin",
            geotransform("inf.tif", Affine(0.5, 0, inf, 0, -0.5, ORIGIN[1])),
            None,
        ),
        (
            "scene-zero-pixels",
            geotransform("zero.tif", Affine(0.0, 0, ORIGIN[0], 0, 0.0, ORIGIN[1])),
            None,
        ),
        (
            "labels-nan-geotransform",
            scene,
            geotransform("nanlab.tif", Affine(nan, 0, ORIGIN[0], 0, -0.5, ORIGIN[1])),
        ),
        ("vector-no-crs", scene, vector("nocrs.gpkg", gpd.GeoDataFrame(geometry=[footprint]))),
        (
            "vector-local-crs",
            scene,
            vector("local.gpkg", gpd.GeoDataFrame(geometry=[footprint], crs=LOCAL_CRS)),
        ),
        (
            "vector-elsewhere",
            scene,
            vector("far.gpkg", gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=CRS)),
        ),
        (
            "vector-empty-geometry",
            scene,
            vector("none.gpkg", gpd.GeoDataFrame(geometry=[None], crs=CRS)),
        ),
        (
            "geojson-not-json",
            scene,
            _text(folder / "bad.geojson", '{"type": "FeatureCollection", "features": ['),
        ),
        (
            "geojson-nan",
            scene,
            _text(folder / "nan.geojson", _geojson([[nan, nan], [1, 1], [1, 0], [nan, nan]])),
        ),
        (
            "geojson-no-features",
            scene,
            _text(folder / "none.geojson", '{"type": "FeatureCollection", "features": []}'),
        ),
    ]


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _geojson(ring: list[list[float]]) -> str:
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


@pytest.fixture(scope="module")
def valid_inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("valid")
    scene = write_scene(folder / "scene.tif", WIDTH, HEIGHT)
    labels = np.random.default_rng(SEED).integers(0, 2, (1, HEIGHT, WIDTH)).astype("uint8")
    frame = gpd.GeoDataFrame(
        {"cls": [1]}, geometry=[box(*ORIGIN, ORIGIN[0] + 20, ORIGIN[1] - 15)], crs=CRS
    )
    frame.to_file(folder / "labels.gpkg")
    frame.to_file(folder / "labels.geojson")
    return {
        "scene": scene,
        "labels_tif": write_scene(folder / "labels.tif", WIDTH, HEIGHT, data=labels),
        "labels_gpkg": folder / "labels.gpkg",
        "labels_geojson": folder / "labels.geojson",
    }


def assert_clean_failure_or_success(result, out: Path, before: list[str]) -> None:
    """Exit 0 with a complete output, or exit 1/2 with one ``Error:`` line and nothing left."""
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert (out / "tiles.gpkg").is_file()
        return
    assert_one_clean_error(result)
    assert sorted(p.name for p in out.parent.iterdir()) == before


def tile(scene: Path, labels: Path | None, out: Path):
    args = ["tile", scene, "-o", out, "--size", 32, "--jobs", 1]
    return run(*args, *(["-l", labels] if labels is not None else []))


MUTATIONS = byte_mutations() + header_mutations()


@pytest.mark.parametrize(("case", "role", "mutate"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_damaged_bytes_fail_cleanly(valid_inputs, tmp_path, case, role, mutate):
    damaged = tmp_path / f"damaged{valid_inputs[role].suffix}"
    damaged.write_bytes(mutate(valid_inputs[role].read_bytes()))
    scene = damaged if role == "scene" else valid_inputs["scene"]
    labels = None if role == "scene" else damaged
    before = sorted(p.name for p in tmp_path.iterdir())
    result = tile(scene, labels, tmp_path / "out")
    assert_clean_failure_or_success(result, tmp_path / "out", before)
    if case.startswith(("scene-size", "labels_tif-size")) or "-random-" in case:
        assert result.exit_code in (1, 2), result.output


#: Wrong-looking content that is still valid: complex imagery (e.g. SAR) tiles like any other.
MAY_SUCCEED = {"scene-complex"}


def test_wrong_content_fails_cleanly(tmp_path):
    """Well-formed files with the wrong content: each must be refused, and cleanly."""
    (tmp_path / "inputs").mkdir()
    (tmp_path / "outputs").mkdir()
    failures = []
    for case, scene, labels in semantic_cases(tmp_path / "inputs"):
        out = tmp_path / "outputs" / case
        before = sorted(p.name for p in out.parent.iterdir())
        result = tile(scene, labels, out)
        try:
            assert case in MAY_SUCCEED or result.exit_code in (1, 2), result.output
            assert_clean_failure_or_success(result, out, before)
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
    assert not failures, "\n".join(failures)
