"""detect on inputs crafted to escape the output folder, or with nothing to score."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from tests.conftest import make_model_file, run_cli, write_scene


@pytest.fixture(scope="module")
def tile_dir(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiles")
    labels = np.random.default_rng(0).integers(0, 3, (1, 96, 96)).astype("uint8")
    scene = write_scene(root / "scene.tif", 96, 96, count=4)
    label_path = write_scene(root / "labels.tif", 96, 96, data=labels)
    tiles = root / "tiles"
    result = run_cli("-q", "tile", scene, "-l", label_path, "-o", tiles, "--size", 32)
    assert result.exit_code == 0, result.output
    return {"tiles": tiles, "scene": scene, "model": make_model_file(root / "m.ckpt")}


@pytest.mark.parametrize(
    "tile_id, fragment",
    [
        ("../../../../escaped", "cannot name a file"),
        ("/tmp/escaped", "cannot name a file"),
        ("..", "cannot name a file"),
        ("a\nb", "cannot name a file"),
        ("DUPLICATE", "appears twice"),
    ],
)
def test_tile_ids_cannot_write_outside_the_output(tile_dir, tmp_path, tile_id, fragment):
    index = gpd.read_file(tile_dir["tiles"] / "tiles.gpkg", layer="tiles")
    index.loc[0, "tile_id"] = tile_id
    if tile_id == "DUPLICATE":
        index.loc[0, "tile_id"] = index.loc[1, "tile_id"]
    gpkg = tmp_path / "index" / "tiles.gpkg"
    gpkg.parent.mkdir()
    index.to_file(gpkg, layer="tiles")
    for sub in ("images", "labels"):
        (gpkg.parent / sub).symlink_to(tile_dir["tiles"] / sub, target_is_directory=True)
    out = tmp_path / "a" / "b" / "ranking"
    result = run_cli("detect", "--tiles", gpkg.parent, "-m", tile_dir["model"], "-o", out)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "unexpected" not in result.stderr
    assert not out.exists()
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped.tif").exists()


def test_a_scene_with_nothing_to_score_writes_nothing(tile_dir, tmp_path):
    empty = write_scene(tmp_path / "nodata.tif", 96, 96, count=4, nodata=0, data=np.zeros(
        (4, 96, 96), "uint8"
    ))  # fmt: skip
    labels = write_scene(tmp_path / "labels.tif", 96, 96, data=np.ones((1, 96, 96), "uint8"))
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "detect", empty, "-l", labels, "-m", tile_dir["model"], "-o", out / "noise.tif"
    )
    assert result.exit_code == 1, result.output
    assert "nothing to score" in result.stderr and "unexpected" not in result.stderr
    assert list(out.iterdir()) == []


def test_a_window_larger_than_the_scene_shrinks_to_it(tile_dir, tmp_path):
    """--window 8192 on a 96² scene held 4 windows of 8192² × 8 flips (6.8 GB at 256²)."""
    import resource

    labels = write_scene(tmp_path / "labels.tif", 96, 96, data=np.ones((1, 96, 96), "uint8"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_cli(
        "-q", "detect", tile_dir["scene"], "-l", labels,
        "-m", tile_dir["model"], "-o", tmp_path / "noise.tif", "--window", 8192,
        "--overlap", 4096, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 500
    assert '"window": 96' in result.stdout
