"""The block pass: any block size, and worker processes, give the whole-raster layer."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import rasterio
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from geonoise.vectorize.options import VectorizeOptions
from geonoise.vectorize.polygonize import EmptyResultError, vectorize
from geonoise.vectorize.scan import Tally, scan
from tests.conftest import CRS, ORIGIN, RES
from tests.vectorize.conftest import assert_same_layers, write_classes, write_noise


def memory_raster(stack: contextlib.ExitStack, data: np.ndarray, nodata=None):
    profile = {
        "driver": "GTiff",
        "width": data.shape[-1],
        "height": data.shape[-2],
        "count": 1 if data.ndim == 2 else data.shape[0],
        "dtype": str(data.dtype),
        "crs": CRS,
        "transform": from_origin(*ORIGIN, RES, RES),
        "nodata": nodata,
    }
    memfile = stack.enter_context(MemoryFile())
    with memfile.open(**profile) as dst:
        dst.write(data if data.ndim == 3 else data[None])
    return stack.enter_context(memfile.open())


def blobby(seed: int, height: int, width: int, cells: int) -> np.ndarray:
    """Scores in [0, 1] with blobs several pixels wide (random cells, upsampled)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // cells + 1, width // cells + 1))
    fine = np.kron(coarse, np.ones((cells, cells)))[:height, :width]
    return (0.7 * fine + 0.3 * rng.random((height, width))).astype("float32")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    height=st.integers(20, 90),
    width=st.integers(20, 90),
    cells=st.integers(1, 8),
    size=st.integers(16, 40),
    with_classes=st.booleans(),
    min_area=st.sampled_from([0.0, 1.0, 3.0]),
)
def test_windowed_result_equals_whole_raster_result(
    seed, height, width, cells, size, with_classes, min_area
):
    score = blobby(seed, height, width, cells)
    label = blobby(seed + 1, height, width, cells + 2) > 0.5
    predicted = blobby(seed + 2, height, width, cells + 2) > 0.5
    classes = np.stack([label, predicted]).astype("uint8")
    with contextlib.ExitStack() as stack:
        noise = memory_raster(stack, score)
        companion = memory_raster(stack, classes) if with_classes else None
        options = {"threshold": 0.6, "min_area": min_area}
        results = []
        for blocks_of in (4096, size):
            try:  # every region may be below --min-area: then both must say so, alike
                results.append(
                    vectorize(noise, companion, VectorizeOptions(**options, window_size=blocks_of))
                )
            except EmptyResultError as exc:
                results.append(str(exc))
    whole, windowed = results
    if isinstance(whole, str) or isinstance(windowed, str):
        assert whole == windowed
    else:
        assert_same_layers(whole, windowed)


@pytest.mark.parametrize(("in_memory", "fill_holes"), [(False, 2.0), (True, 2.0), (False, 0.0)])
def test_worker_processes_give_the_same_layer_as_one_process(tmp_path, in_memory, fill_holes):
    # fill_holes 0: regions inside a block are finished (simplified, measured, dropped when
    # too small) by the worker that scanned it; otherwise all after the merge.
    score = blobby(7, 150, 130, 5)
    classes = np.stack([blobby(8, 150, 130, 7) > 0.5, blobby(9, 150, 130, 7) > 0.5])
    with contextlib.ExitStack() as stack:
        if in_memory:  # /vsimem/ files are in this process's memory, which a fork copies
            noise = memory_raster(stack, score)
            companion = memory_raster(stack, classes.astype("uint8"))
        else:
            noise = stack.enter_context(rasterio.open(write_noise(tmp_path / "n.tif", score)))
            path = write_classes(tmp_path / "c.tif", *classes.astype("uint8"))
            companion = stack.enter_context(rasterio.open(path))
        options = {"threshold": 0.6, "window_size": 32, "simplify": 0.5, "min_area": 1.0}
        options["fill_holes"] = fill_holes
        serial = vectorize(noise, companion, VectorizeOptions(**options, jobs=1))
        parallel = vectorize(noise, companion, VectorizeOptions(**options, jobs=3))
    assert len(serial) > 20
    assert_same_layers(serial, parallel)
    assert shapely.equals(serial.geometry.values, parallel.geometry.values).all()


def scan_log(score: np.ndarray, window: int) -> tuple[Tally, list[str]]:
    """Scan ``score`` in blocks of ``window``: the tally, and "block" / "batch" as they came."""
    events: list[str] = []
    tally = Tally()
    with contextlib.ExitStack() as stack:
        noise = memory_raster(stack, score)
        options = VectorizeOptions(threshold=0.6, window_size=window)
        for _ in scan(noise, None, options, lambda _: events.append("block"), tally):
            events.append("batch")
    return tally, events


def test_regions_are_handed_on_as_rows_of_blocks_close_and_few_are_held():
    # Blobs cross every block edge (3 blocks per row). A map four times taller has four
    # times the regions and blocks, but no more pieces held at once: only those of regions
    # open across one row boundary; the rest are handed on (written) row by row.
    tile = blobby(3, 64, 96, 5)
    small, small_events = scan_log(np.tile(tile, (2, 1)), 32)
    large, large_events = scan_log(np.tile(tile, (8, 1)), 32)
    assert large.kept > 3.5 * small.kept
    assert 0 < large.held == small.held <= 96
    blocks = [events.count("block") for events in (small_events, large_events)]
    assert blocks == [12, 48]
    # A batch after every row of blocks, the first before the second row is scanned.
    assert large_events.index("batch") <= 3
    rows_closed = [i for i, e in enumerate(large_events) if e == "block"][2::3]
    assert all(large_events[i + 1] == "batch" for i in rows_closed[:-1])
