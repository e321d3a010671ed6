"""The vectorize library: regions, attributes, kinds, clean-up, and windowed = whole raster."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from geonoise import io
from geonoise.errors import GeoreferenceError, InvalidInputError, ReadError
from geonoise.vectorize import (
    EmptyResultError,
    VectorizeOptions,
    classes_path_for,
    connected_groups,
    simplify,
    square_reduce,
    vectorize,
)
from tests.conftest import CRS, ORIGIN, RES, write_scene

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


def write_noise(path: Path, score: np.ndarray, **kwargs) -> Path:
    return write_scene(
        path, score.shape[1], score.shape[0], data=score[None], nodata=-1.0, **kwargs
    )


def write_classes(path: Path, label: np.ndarray, predicted: np.ndarray, **kwargs) -> Path:
    data = np.stack([label, predicted])
    return write_scene(path, label.shape[1], label.shape[0], data=data, **kwargs)


@contextlib.contextmanager
def opened(*paths: Path | None):
    with contextlib.ExitStack() as stack:
        yield [None if p is None else stack.enter_context(io.open_scene(p)) for p in paths]


def run(noise: Path, classes: Path | None = None, **options):
    with opened(noise, classes) as (noise_ds, classes_ds):
        return vectorize(noise_ds, classes_ds, VectorizeOptions(**options))


@pytest.fixture
def known(tmp_path):
    score, label, predicted = known_scene()
    return (
        write_noise(tmp_path / "noise.tif", score),
        write_classes(tmp_path / "noise.classes.tif", label, predicted),
    )


def test_known_regions_become_known_polygons_with_attributes(known):
    gdf = run(*known)
    assert list(gdf["id"]) == [1, 2, 3, 4]
    assert list(gdf["kind"]) == ["missing", "spurious", "boundary", "boundary"]
    assert list(gdf["label_class"]) == [0, 1, 1, 0]
    assert list(gdf["predicted_class"]) == [1, 0, 0, 1]
    assert list(gdf["pixels"]) == [100, 100, 40, 40]
    np.testing.assert_allclose(gdf["area"], [25.0, 25.0, 10.0, 10.0])
    np.testing.assert_allclose(gdf["mean_score"], [(99 * 0.9 + 1.0) / 100, 0.8, 0.7, 0.7], 1e-6)
    np.testing.assert_allclose(gdf["max_score"], [1.0, 0.8, 0.7, 0.7], 1e-6)
    x0, y0 = ORIGIN
    expected = [
        shapely.box(x0 + 5 * RES, y0 - 15 * RES, x0 + 15 * RES, y0 - 5 * RES),
        shapely.box(x0 + 30 * RES, y0 - 15 * RES, x0 + 40 * RES, y0 - 5 * RES),
        shapely.box(x0 + 10 * RES, y0 - 50 * RES, x0 + 12 * RES, y0 - 30 * RES),
        shapely.box(x0 + 30 * RES, y0 - 50 * RES, x0 + 32 * RES, y0 - 30 * RES),
    ]
    assert shapely.equals(gdf.geometry.values, expected).all()
    assert gdf.crs == CRS
    assert shapely.is_valid(gdf.geometry.values).all()


def test_whole_buildings_are_not_boundary_even_when_thin(tmp_path):
    score = np.full((40, 40), 0.1, "float32")
    label = np.zeros((40, 40), "uint8")
    predicted = np.zeros((40, 40), "uint8")
    label[5:30, 5:8] = 1  # a thin labelled shed the model does not see at all
    score[5:30, 5:8] = 0.9
    noise = write_noise(tmp_path / "n.tif", score)
    gdf = run(noise, write_classes(tmp_path / "c.tif", label, predicted))
    assert list(gdf["kind"]) == ["spurious"]


def test_boundary_width_decides_what_is_a_sliver(tmp_path):
    score = np.full((60, 60), 0.1, "float32")
    label = np.zeros((60, 60), "uint8")
    predicted = np.zeros((60, 60), "uint8")
    label[20:40, 10:30] = 1
    predicted[20:40, 16:36] = 1  # shifted by 6 px: two 6-pixel-wide slivers
    score[20:40, 10:16] = 0.9
    score[20:40, 30:36] = 0.9
    noise = write_noise(tmp_path / "n.tif", score)
    classes = write_classes(tmp_path / "c.tif", label, predicted)
    assert list(run(noise, classes, boundary_width=3)["kind"]) == ["boundary", "boundary"]
    assert list(run(noise, classes, boundary_width=2)["kind"]) == ["spurious", "missing"]


def test_multi_class_maps_have_class_changes(tmp_path):
    score = np.full((30, 30), 0.1, "float32")
    label = np.full((30, 30), 3, "uint8")
    predicted = label.copy()
    score[10:20, 10:20] = 0.95
    predicted[10:20, 10:20] = 2
    noise = write_noise(tmp_path / "n.tif", score)
    gdf = run(noise, write_classes(tmp_path / "c.tif", label, predicted))
    assert list(gdf["kind"]) == ["class_change"]
    assert (gdf["label_class"][0], gdf["predicted_class"][0]) == (3, 2)


def test_without_classes_the_class_attributes_are_null(known):
    gdf = run(known[0])
    assert len(gdf) == 4
    assert gdf["label_class"].isna().all() and gdf["predicted_class"].isna().all()
    assert set(gdf["kind"]) == {"unknown"}


def test_nodata_and_nan_are_never_suspect(known):
    gdf = run(known[0], threshold=0.0)
    assert len(gdf) == 1
    assert gdf["pixels"][0] == SIZE * SIZE - 25 - 1
    np.testing.assert_allclose(gdf["area"][0], (SIZE * SIZE - 25 - 1) * PIXEL_AREA)


def test_no_pixel_above_the_threshold_is_an_error_naming_it(tmp_path):
    noise = write_noise(tmp_path / "low.tif", np.full((40, 40), 0.3, "float32"))
    with pytest.raises(
        EmptyResultError, match=r"low.tif: no pixel .* at least 0.5 \(--threshold\)"
    ):
        run(noise, window_size=16)


def test_min_area_drops_small_polygons(tmp_path):
    score = np.zeros((30, 30), "float32")
    score[2:4, 2:4] = 1  # 1 m²
    score[10:20, 10:20] = 1  # 25 m²
    noise = write_noise(tmp_path / "n.tif", score)
    assert len(run(noise)) == 2
    kept = run(noise, min_area=2)
    np.testing.assert_allclose(kept["area"], [25.0])
    assert list(kept["id"]) == [1]
    with pytest.raises(EmptyResultError, match="all 2 regions are smaller than --min-area 100"):
        run(noise, min_area=100)
    # blocks of 16 px: the 10×10 region crosses a seam (finished after the merge), the small
    # one lies inside a block (finished by its block's scan)
    with pytest.raises(EmptyResultError, match="all 2 regions are smaller than --min-area 100"):
        run(noise, min_area=100, window_size=16)
    np.testing.assert_allclose(run(noise, min_area=2, window_size=16)["area"], [25.0])


def test_min_area_drops_regions_that_cross_seams_too(tmp_path):
    score = np.zeros((30, 30), "float32")
    score[12:16, 12:16] = 1  # 4 m² across the seams of 16-px blocks (starts 0 and 14)
    noise = write_noise(tmp_path / "n.tif", score)
    with pytest.raises(EmptyResultError, match="all 1 regions are smaller than --min-area 5"):
        run(noise, min_area=5, window_size=16)
    np.testing.assert_allclose(run(noise, min_area=4, window_size=16)["area"], [4.0])


def test_engineering_crs_areas_use_its_unit(tmp_path):
    """A local (engineering) CRS, as drone surveys have, is neither projected nor geographic."""
    from rasterio.crs import CRS as RioCRS

    local = RioCRS.from_wkt(
        'LOCAL_CS["site",LOCAL_DATUM["site",0],UNIT["metre",1],'
        'AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    )
    score = np.zeros((40, 40), "float32")
    score[5:10, 5:10] = 0.9
    noise = write_noise(tmp_path / "n.tif", score, crs=local, res=2.0)
    layer = run(noise)
    np.testing.assert_allclose(layer["area"], [25 * 4.0])


def ring_with_holes() -> np.ndarray:
    score = np.zeros((40, 40), "float32")
    score[5:35, 5:35] = 1
    score[8:10, 8:10] = 0  # 1 m² hole
    score[15:25, 15:25] = 0  # 25 m² hole
    score[28:31, 28:31] = 0  # 2.25 m² hole with a one-pixel island
    score[29, 29] = 1
    return score


def test_fill_holes_fills_small_holes_only_and_absorbs_their_islands(tmp_path):
    noise = write_noise(tmp_path / "n.tif", ring_with_holes())
    plain = run(noise)
    assert len(plain) == 2 and shapely.get_num_interior_rings(plain.geometry[0]) == 3
    filled = run(noise, fill_holes=4)
    assert len(filled) == 1
    polygon = filled.geometry[0]
    assert shapely.get_num_interior_rings(polygon) == 1
    np.testing.assert_allclose(polygon.area, 30 * 30 * PIXEL_AREA - 25.0)
    assert filled["pixels"][0] == plain["pixels"].sum()  # the island's pixels joined


def test_simplify_keeps_validity_and_reduces_vertices(tmp_path):
    yy, xx = np.mgrid[0:80, 0:80]
    score = np.zeros((80, 80), "float32")
    score[(yy - 40) ** 2 + (xx - 40) ** 2 < 30**2] = 1
    score[(yy - 40) ** 2 + (xx - 40) ** 2 < 8**2] = 0  # a hole
    noise = write_noise(tmp_path / "n.tif", score)
    exact = run(noise)
    simple = run(noise, simplify=1.0)
    assert shapely.is_valid(simple.geometry.values).all()
    assert shapely.get_num_coordinates(simple.geometry[0]) < 0.5 * shapely.get_num_coordinates(
        exact.geometry[0]
    )
    assert shapely.get_num_interior_rings(simple.geometry[0]) == 1
    np.testing.assert_allclose(simple.geometry[0].area, exact.geometry[0].area, rtol=0.05)


def test_classes_on_another_grid_are_refused(tmp_path, known):
    _, label, predicted = known_scene()
    other = write_classes(tmp_path / "other.tif", label, predicted, origin=(400_000.0, 5e6))
    with pytest.raises(GeoreferenceError, match="not on the grid"):
        run(known[0], other)
    one_band = write_scene(tmp_path / "one.tif", SIZE, SIZE, count=1)
    with pytest.raises(ReadError, match="2"):
        run(known[0], one_band)


def test_options_are_validated():
    with pytest.raises(InvalidInputError, match="--threshold"):
        VectorizeOptions(threshold=1.5)
    with pytest.raises(InvalidInputError, match="--min-area"):
        VectorizeOptions(min_area=-1)


def test_geographic_crs_areas_are_square_metres(tmp_path):
    score = np.zeros((20, 20), "float32")
    score[5:15, 5:15] = 1
    noise = write_noise(tmp_path / "n.tif", score, crs="EPSG:4326", origin=(10.0, 50.0), res=0.0001)
    gdf = run(noise)
    # 10 × 0.0001° ≈ 11.1 m north-south and ≈ 7.2 m east-west at 50° N.
    np.testing.assert_allclose(gdf["area"][0], 111_200 * 0.001 * 71_700 * 0.001, rtol=0.02)


def test_classes_path_is_the_companion_name():
    assert classes_path_for("out/noise.tif") == str(Path("out/noise.classes.tif"))


# --------------------------------------------------------------------------- windows


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


def assert_same_layers(a, b) -> None:
    assert len(a) == len(b)
    ga, gb = shapely.normalize(a.geometry.values), shapely.normalize(b.geometry.values)
    assert shapely.equals_exact(ga, gb, 0).all()
    for column in ("id", "pixels", "kind"):
        assert list(a[column]) == list(b[column])
    for column in ("label_class", "predicted_class"):
        assert a[column].fillna(-1).tolist() == b[column].fillna(-1).tolist()
    for column in ("area", "mean_score", "max_score"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-9)


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


def test_regions_crossing_many_windows_and_holes_across_seams(tmp_path):
    score = np.zeros((100, 100), "float32")
    score[10:90, 10:90] = 0.9  # spans 9 windows of 32 px
    score[25:75, 25:75] = 0  # a hole across four windows
    score[40:60, 40:60] = 0.9  # an island in the hole
    score[0:100, 95] = 0.9  # a thin line through every window row
    noise = write_noise(tmp_path / "n.tif", score)
    whole = run(noise, window_size=4096)
    windowed = run(noise, window_size=32)
    assert_same_layers(whole, windowed)
    assert len(windowed) == 3
    ring = windowed.geometry[windowed["area"].idxmax()]
    assert shapely.get_num_interior_rings(ring) == 1
    np.testing.assert_allclose(sorted(windowed["area"]), sorted([25.0, 100.0, 1600 - 625]))
    filled = run(noise, window_size=32, fill_holes=1000)
    assert len(filled) == 2 and filled["pixels"].max() == 80 * 80 - 50 * 50 + 400


def test_memory_file_datasets_need_no_file(known):
    with rasterio.open(known[0]) as noise:
        assert len(vectorize(noise)) == 4


@given(
    count=st.integers(1, 60),
    pairs=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80),
)
def test_connected_groups_join_exactly_the_connected_items(count, pairs):
    pairs = np.array([(a % count, b % count) for a, b in pairs], dtype=np.int64).reshape(-1, 2)
    groups = connected_groups(count, pairs)
    # Reference: flood fill over an adjacency list.
    neighbours: dict[int, set[int]] = {i: set() for i in range(count)}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    expected, seen = np.full(count, -1), 0
    for start in range(count):
        if expected[start] < 0:
            stack = [start]
            while stack:
                item = stack.pop()
                if expected[item] < 0:
                    expected[item] = seen
                    stack.extend(neighbours[item])
            seen += 1
    assert groups.tolist() == expected.tolist()


def test_simplify_falls_back_to_topology_preserving_where_quick_one_breaks():
    # Douglas-Peucker at this tolerance collapses the small hole and pinches the
    # thin neck; the polygons must keep their rings and stay valid.
    holed = shapely.Polygon(
        [(0, 0), (40, 0), (40, 40), (0, 40)], [[(10, 10), (11, 10), (11, 11), (10, 11)]]
    )
    sliver = shapely.Polygon([(0, 0), (30, 0), (30, 0.4), (15, 0.2), (0, 0.4)])
    plain = shapely.box(0, 0, 10, 10)
    geoms = np.array([holed, sliver, plain], dtype=object)
    quick = shapely.simplify(geoms, 2.0, preserve_topology=False)
    assert shapely.get_num_interior_rings(quick[0]) == 0 and quick[1].is_empty  # the traps
    simple = simplify(geoms, 2.0)
    assert shapely.is_valid(simple).all() and not shapely.is_empty(simple).any()
    assert shapely.get_num_interior_rings(simple[0]) == 1
    assert list(shapely.get_type_id(simple)) == [shapely.GeometryType.POLYGON] * 3
    assert simple[2].equals(plain)


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


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    radius=st.integers(1, 6),
    share=st.floats(0.05, 0.95),
)
def test_square_reduce_is_scipys_binary_maximum_and_minimum_filter(
    seed, height, width, radius, share
):
    from scipy import ndimage

    mask = np.random.default_rng(seed).random((height, width)) < share
    size = 2 * radius + 1
    dilated = ndimage.maximum_filter(mask, size=size, mode="constant", cval=0)
    eroded = ndimage.minimum_filter(mask, size=size, mode="constant", cval=0)
    np.testing.assert_array_equal(square_reduce(mask, radius, np.logical_or), dilated)
    np.testing.assert_array_equal(square_reduce(mask, radius, np.logical_and), eroded)
