"""vectorize_file's conventions on paths (the writing itself is tested through the CLI)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from geonoise import io
from geonoise.vectorize.attributes import KINDS
from geonoise.vectorize.files import classes_path_for, vectorize_file
from geonoise.vectorize.options import VectorizeOptions
from geonoise.vectorize.writer import LAYER, SHAPEFILE_NAMES, write_layer
from tests.vectorize.conftest import assert_same_layers, run, write_classes, write_noise
from tests.vectorize.test_scan import blobby


def test_classes_path_is_the_companion_name():
    assert classes_path_for("out/noise.tif") == str(Path("out/noise.classes.tif"))


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".shp", ".geojson", ".parquet"])
def test_streamed_layer_equals_the_whole_layer_written_at_once(tmp_path, suffix):
    # The previous behaviour: every region in memory, the layer written whole.
    score = blobby(11, 150, 130, 5)
    classes = np.stack([blobby(12, 150, 130, 7) > 0.5, blobby(13, 150, 130, 7) > 0.5])
    noise = write_noise(tmp_path / "n.tif", score)
    companion = write_classes(tmp_path / "c.tif", *classes.astype("uint8"))
    options = VectorizeOptions(threshold=0.6, window_size=32, simplify=0.5, min_area=1.0, jobs=2)
    whole = tmp_path / "whole" / f"layer{suffix}"
    write_layer(run(noise, companion, **asdict(options)), whole, overwrite=False, with_style=True)
    streamed = tmp_path / "streamed" / f"layer{suffix}"
    summary = vectorize_file(noise, streamed, classes_path=companion, options=options)
    a, b = io.read_vector(whole), io.read_vector(streamed)
    assert summary.count == len(a) > 50
    if suffix == ".shp":
        a, b = (gdf.rename(columns={v: k for k, v in SHAPEFILE_NAMES.items()}) for gdf in (a, b))
    assert list(a.columns) == list(b.columns) and a.dtypes.equals(b.dtypes)
    assert_same_layers(a, b)
    assert entries(whole.parent) == entries(streamed.parent)  # side files, style; no scratch
    if suffix != ".parquet":
        layer = LAYER if suffix == ".gpkg" else None  # a GeoPackage holds its style table too
        info = [pyogrio.read_info(path, layer=layer) for path in (whole, streamed)]
        for key in ("layer_name", "fields", "dtypes", "geometry_type", "crs", "features"):
            assert np.array_equal(info[0][key], info[1][key]), key
    kinds = a["kind"].value_counts()
    assert summary.by_kind == {k: int(kinds[k]) for k in KINDS if k in kinds}
    assert summary.total_area == pytest.approx(a["area"].sum())


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_knows_the_number_of_blocks_before_the_first(tmp_path, jobs):
    noise = write_noise(tmp_path / "n.tif", blobby(11, 150, 130, 5))
    calls: list[tuple[int, int]] = []
    options = VectorizeOptions(threshold=0.6, window_size=64, jobs=jobs)
    vectorize_file(
        noise, tmp_path / "p.gpkg", options=options, on_window=lambda *call: calls.append(call)
    )
    assert calls == [(done, 9) for done in range(10)]  # 3 × 3 blocks of 64 px, from 0
