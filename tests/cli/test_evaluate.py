"""`geonoise evaluate` through the command line: table, JSON, plot, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from geonoise import io
from tests.conftest import CRS, ORIGIN, RES, one_line_error, write_scene
from tests.conftest import run_cli as run
from tests.evaluation.conftest import write_noise, write_truth

SIZE = 32
PNG = b"\x89PNG\r\n\x1a\n"


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def corner_box(col: int, row: int, width: int, height: int):
    """The map footprint of a pixel rectangle on the conftest grid."""
    x0, y0 = ORIGIN[0] + col * RES, ORIGIN[1] - row * RES
    return box(x0, y0 - height * RES, x0 + width * RES, y0)


@pytest.fixture
def scene(tmp_path) -> dict[str, Path]:
    """A 32×32 scene like synth writes it, with a noise map that ranks the noise perfectly.

    Two noisy objects (8×8 at the top left, 4×4 at the bottom right: 80 of 1024
    pixels); a nodata row at the bottom of the noise map.
    """
    truth = np.zeros((SIZE, SIZE), "uint8")
    truth[0:8, 0:8] = 1
    truth[20:24, 20:24] = 1
    score = np.where(truth > 0, 0.9, 0.1)
    score[-1, :] = -1.0
    objects = gpd.GeoDataFrame(
        {"object_id": [1, 2], "kind": ["missing", "spurious"]},
        geometry=[corner_box(0, 0, 8, 8), corner_box(20, 20, 4, 4)],
        crs=CRS,
    )
    polygons = gpd.GeoDataFrame(
        {"id": [1, 2]}, geometry=[corner_box(0, 0, 8, 8), corner_box(28, 0, 4, 4)], crs=CRS
    )
    truth_dir = tmp_path / "synth"
    truth_dir.mkdir()
    io.write_vector(objects, truth_dir / "noise_objects.gpkg", layer="noise_objects")
    io.write_vector(polygons, tmp_path / "polygons.gpkg", layer="noise")
    return {
        "noise": write_noise(tmp_path / "noise.tif", score),
        "truth": write_truth(truth_dir / "noise_truth.tif", truth),
        "polygons": tmp_path / "polygons.gpkg",
    }


def test_prints_a_readable_table(scene):
    result = run("-q", "evaluate", scene["noise"], "--truth", scene["truth"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = result.stdout
    assert "pixels: 992 evaluated, 80 noisy (8.06%), 32 ignored" in out
    assert "average precision   1.0000" in out and "AUROC               1.0000" in out
    assert "best F1             1.0000  at score ≥ 0.9 (precision 1.0000, recall 1.0000)" in out
    assert "at score ≥ 0.5" in out
    assert "objects" not in out and "tiles" not in out


def test_json_is_one_parseable_object_with_exact_values(scene):
    result = run("-q", "evaluate", scene["noise"], "--truth", scene["truth"], "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    pixels = summary["pixels"]
    assert (pixels["average_precision"], pixels["auroc"], pixels["best_f1"]) == (1.0, 1.0, 1.0)
    assert (pixels["evaluated"], pixels["noisy"], pixels["ignored"]) == (992, 80, 32)
    assert pixels["best_threshold"] == pytest.approx(0.9, abs=1e-7)
    assert summary["objects"] is None and summary["tiles"] is None and summary["plot"] is None


def test_objects_use_the_truth_objects_beside_the_truth(scene):
    args = ["-q", "evaluate", scene["noise"], "--truth", scene["truth"]]
    result = run(*args, "--polygons", scene["polygons"], "--json")
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)["objects"]
    assert objects["truth_objects_file"] == str(scene["truth"].parent / "noise_objects.gpkg")
    assert (objects["found"], objects["truth_objects"], objects["recall"]) == (1, 2, 0.5)
    assert (objects["correct"], objects["polygons"], objects["precision"]) == (1, 2, 0.5)
    assert objects["by_kind"]["missing"] == {"objects": 1, "found": 1, "recall": 1.0}
    assert objects["by_score"] is None  # the polygons have no mean_score
    table = run(*args, "--polygons", scene["polygons"]).stdout
    assert "recall              0.5000  (1 of 2 truth objects found)" in table
    assert "precision           0.5000  (1 of 2 polygons in truth objects)" in table


def test_object_precision_at_a_recall_names_the_min_score_cut_off(scene, tmp_path):
    polygons = gpd.read_file(scene["polygons"]).assign(mean_score=[0.9, 0.7])
    io.write_vector(polygons, tmp_path / "scored.gpkg", layer="noise")
    args = ["-q", "evaluate", scene["noise"], "--truth", scene["truth"]]
    args += ["--polygons", tmp_path / "scored.gpkg"]
    curve = json.loads(run(*args, "--at-recall", 0.5, "--json").stdout)["objects"]["by_score"]
    assert (curve["precision_at_recall"], curve["cutoff_at_recall"]) == (1.0, 0.9)
    assert curve["recall"] == [0.5, 0.5] and curve["precision"] == [0.5, 1.0]
    table = run(*args, "--at-recall", 0.5).stdout
    assert "precision at recall ≥ 0.5  1.0000" in table and "--min-score 0.9" in table
    assert "no cut-off on mean_score keeps it" in run(*args).stdout  # recall 0.8: never
    bad = run(*args, "--at-recall", 1.5)
    assert bad.exit_code == 2 and "--at-recall" in bad.stderr


def test_explicit_truth_objects_and_min_cover(scene, tmp_path):
    half = gpd.GeoDataFrame({"id": [1]}, geometry=[corner_box(0, 0, 8, 3)], crs=CRS)
    io.write_vector(half.to_crs("EPSG:4326"), tmp_path / "half.geojson")
    args = ["-q", "evaluate", scene["noise"], "--truth", scene["truth"], "--json"]
    objects_path = scene["truth"].parent / "noise_objects.gpkg"
    moved = tmp_path / "objects.gpkg"
    objects_path.rename(moved)
    base = [*args, "--polygons", tmp_path / "half.geojson", "--truth-objects", moved]
    found = json.loads(run(*base, "--min-cover", 0.3).stdout)["objects"]
    assert (found["found"], found["correct"]) == (1, 1)  # 3/8 of the object
    missed = json.loads(run(*base, "--min-cover", 0.5).stdout)["objects"]
    assert (missed["found"], missed["correct"]) == (0, 1)


def tile_dir(scene: dict[str, Path], tmp_path: Path) -> Path:
    """Tiles of the scene cut by `geonoise tile` (16 px: four tiles)."""
    image = write_scene(tmp_path / "scene.tif", SIZE, SIZE)
    out = tmp_path / "tiles"
    result = run("-q", "tile", image, "--labels", scene["truth"], "-o", out, "--size", 16)
    assert result.exit_code == 0, result.output
    return out


def test_tiles_from_geonoise_tile_and_a_ranking(scene, tmp_path):
    tiles = tile_dir(scene, tmp_path)
    args = ["-q", "evaluate", scene["noise"], "--truth", scene["truth"], "--tiles", tiles]
    assert json.loads(run(*args, "--json").stdout)["tiles"]["scores"] == "softmin noise score"
    summary = json.loads(run(*args, "--json", "--tile-score", "mean").stdout)["tiles"]
    assert (summary["tiles"], summary["dropped"], summary["scores"]) == (4, 0, "mean noise score")
    assert summary["kendall_tau"] == pytest.approx(1.0)  # fractions 0.25, 0, 0, 16/240
    fractions = {row["tile_id"][-15:]: row["noise_fraction"] for row in summary["rows"]}
    assert fractions == {
        "r000000_c000000": 0.25,
        "r000000_c000016": 0.0,
        "r000016_c000000": 0.0,
        "r000016_c000016": pytest.approx(16 / 240),
    }
    ranking = tmp_path / "ranking.csv"  # a ranking that has it backwards
    order = sorted(summary["rows"], key=lambda r: -r["noise_fraction"])
    ranking.write_text(
        "id,imageid,score\n"
        + "".join(f"{i},{r['tile_id']},{-r['noise_fraction']}\n" for i, r in enumerate(order))
    )
    ranked = json.loads(run(*args, "--ranking", ranking, "--json").stdout)["tiles"]
    assert ranked["ranking"] == str(ranking) and ranked["kendall_tau"] == pytest.approx(-1.0)
    table = run(*args, "--ranking", ranking).stdout
    assert f"tiles: 4 of {tiles}; {ranking} scores against the true noise fraction" in table
    assert "Kendall tau-b       -1.0000" in table


def test_plot_is_written_refused_then_replaced(scene, tmp_path):
    plot = tmp_path / "out" / "pr.png"
    args = ["-q", "evaluate", scene["noise"], "--truth", scene["truth"], "--plot", plot]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == PNG and f"plot       {plot}" in result.stdout
    plot.write_bytes(PNG + b"mine")
    refused = run(*args)
    one_line_error(refused, 1, f"{plot} exists; pass --overwrite")
    assert refused.stdout == "" and plot.read_bytes() == PNG + b"mine"
    replaced = run(*args, "--overwrite", "--json")
    assert replaced.exit_code == 0 and json.loads(replaced.stdout)["plot"] == str(plot)
    assert plot.read_bytes() != PNG + b"mine"
    assert entries(plot.parent) == ["pr.png"]  # no temporary left behind


def test_a_plot_that_is_not_png_is_a_usage_error(scene, tmp_path):
    result = run(
        "evaluate", scene["noise"], "--truth", scene["truth"], "--plot", tmp_path / "a.pdf"
    )
    assert result.exit_code == 2 and "--plot" in result.stderr and ".png" in result.stderr


def test_truth_off_the_grid_is_a_runtime_error_naming_both_files(scene, tmp_path):
    other = write_truth(tmp_path / "other.tif", np.ones((SIZE, SIZE - 2), "uint8"))
    before = entries(tmp_path)
    result = run("evaluate", scene["noise"], "--truth", other, "--plot", tmp_path / "pr.png")
    one_line_error(result, 1, "other.tif is not on the grid of", "noise.tif", "30×32 px")
    assert "Traceback" not in result.stderr and entries(tmp_path) == before


def test_truth_without_noise_is_a_runtime_error(scene, tmp_path):
    clean = write_truth(tmp_path / "clean.tif", np.zeros((SIZE, SIZE), "uint8"))
    result = run("evaluate", scene["noise"], "--truth", clean, "--plot", tmp_path / "pr.png")
    one_line_error(result, 1, "clean.tif marks no evaluated pixel as noisy")
    assert not (tmp_path / "pr.png").exists()


def test_verbose_shows_the_traceback(scene, tmp_path):
    clean = write_truth(tmp_path / "clean.tif", np.zeros((SIZE, SIZE), "uint8"))
    result = run("-v", "evaluate", scene["noise"], "--truth", clean)
    assert result.exit_code == 1 and "Traceback" in result.stderr


def test_polygons_without_truth_objects_is_a_usage_error(scene, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    truth = write_truth(bare / "truth.tif", np.ones((SIZE, SIZE), "uint8"))
    result = run("evaluate", scene["noise"], "--truth", truth, "--polygons", scene["polygons"])
    one_line_error(result, 2, "--truth-objects", "no noise_objects.gpkg beside")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_polygons_without_crs_or_with_a_wrong_one_are_runtime_errors(scene, tmp_path):
    naked = gpd.GeoDataFrame({"id": [1]}, geometry=[corner_box(0, 0, 8, 8)])
    io.write_vector(naked, tmp_path / "naked.gpkg")
    args = ["evaluate", scene["noise"], "--truth", scene["truth"], "--polygons"]
    result = run(*args, tmp_path / "naked.gpkg")
    one_line_error(result, 1, "naked.gpkg (polygons) has no CRS")
    (tmp_path / "metres.geojson").write_text(naked.to_json())  # read back as EPSG:4326
    result = run(*args, tmp_path / "metres.geojson")
    one_line_error(result, 1, "metres.geojson do not reproject from EPSG:4326")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--ranking", "RANKING"], "--ranking"),
        (["--tile-scene", "scene"], "--tile-scene"),
        (["--truth-objects", "OBJECTS"], "--truth-objects"),
    ],
)
def test_options_that_need_another_are_usage_errors(scene, tmp_path, args, option):
    ranking = tmp_path / "r.csv"
    ranking.write_text("id,imageid\n0,a\n")
    values = {"RANKING": ranking, "OBJECTS": scene["truth"].parent / "noise_objects.gpkg"}
    args = [values.get(a, a) for a in args]
    result = run("evaluate", scene["noise"], "--truth", scene["truth"], *args)
    one_line_error(result, 2, option)


def test_a_directory_without_index_is_a_usage_error(scene, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(
        "evaluate", scene["noise"], "--truth", scene["truth"], "--tiles", tmp_path / "empty"
    )
    one_line_error(result, 2, "--tiles", "has no tiles.gpkg")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--min-cover", "0"),
        ("--min-cover", "1.5"),
        ("--threshold", "2"),
        ("--bins", "1"),
        ("--window-size", "8"),
    ],
)
def test_bad_option_values_are_usage_errors(scene, option, value):
    result = run("evaluate", scene["noise"], "--truth", scene["truth"], option, value)
    assert result.exit_code == 2, result.output
    assert option in result.stderr


def test_missing_inputs_are_usage_errors(scene, tmp_path):
    result = run("evaluate", scene["noise"], "--truth", tmp_path / "nope.tif")
    assert result.exit_code == 2 and "nope.tif" in result.stderr
    result = run("evaluate", scene["noise"])
    assert result.exit_code == 2 and "--truth" in result.stderr


def test_unreadable_noise_map_is_a_runtime_error(scene, tmp_path):
    notes = tmp_path / "notes.tif"
    notes.write_text("hello")
    result = run("evaluate", notes, "--truth", scene["truth"])
    one_line_error(result, 1, "cannot open", "notes.tif")


def test_help_has_an_example():
    result = run("evaluate", "--help")
    assert result.exit_code == 0
    assert "geonoise evaluate noise.tif --truth" in result.output
    assert "AUROC = 0.5" in result.output


def test_help_describes_the_tile_score_as_the_options_value():
    result = run("evaluate", "--help")
    assert result.exit_code == 0
    assert "the --tile-score" in result.output and "softmin by default" in result.output
    assert "the mean score" not in result.output
