"""`geonoise fix` through the command line: propose, review, apply, summary, errors, exit codes."""

from __future__ import annotations

import json

import pytest
import rasterio

from tests.conftest import one_line_error, run_cli
from tests.fixing.conftest import MISSING, SPURIOUS, set_status, write_building_map


@pytest.fixture
def scene(tmp_path):
    return write_building_map(tmp_path)


def test_propose_then_apply_the_accepted_changes(scene, tmp_path):
    fixed = tmp_path / "fixed.tif"
    result = run_cli("fix", scene["labels"], "--noise", scene["noise"], "-o", fixed, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["proposed"] == {"missing": 1, "spurious": 1} and summary["applied"] == 2
    assert summary["review"] == str(tmp_path / "fixed.review.gpkg")
    set_status(tmp_path / "fixed.review.gpkg", {"spurious": "accepted", "missing": "rejected"})
    out = tmp_path / "reviewed.tif"
    result = run_cli("fix", scene["labels"], "--apply", tmp_path / "fixed.review.gpkg", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "1 changes accepted and applied (100 pixels)" in result.stderr
    with rasterio.open(out) as src:
        values = src.read(1)
    assert (values[SPURIOUS] == 0).all() and (values[MISSING] == 0).all()


def test_lists_what_it_wrote(scene, tmp_path):
    review = tmp_path / "changes.gpkg"
    result = run_cli(
        "fix", scene["vector"], "--noise", scene["noise"], "-o", tmp_path / "fixed.gpkg",
        "--review", review, "--class-field", "class",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(1 removed, 1 added, 0 reshaped)" in result.stderr
    assert f"{review}  changes to review" in result.stderr and "(style inside)" in result.stderr


def test_usage_errors_exit_2(scene, tmp_path):
    out = tmp_path / "fixed.tif"
    one_line_error(run_cli("fix", scene["labels"], "-o", out), 2, "--noise")
    run_cli("fix", scene["labels"], "--noise", scene["noise"], "-o", out)
    review = tmp_path / "fixed.review.gpkg"
    result = run_cli(
        "fix",
        scene["labels"],
        "--apply",
        review,
        "--noise",
        scene["noise"],
        "-o",
        tmp_path / "x.tif",
    )
    one_line_error(result, 2, "--noise is for proposing changes")
    set_status(review, {"missing": "yes"})
    result = run_cli("fix", scene["labels"], "--apply", review, "-o", tmp_path / "x.tif")
    one_line_error(result, 2, "--apply", "'yes'")
    result = run_cli(
        "fix", scene["labels"], "--noise", scene["noise"], "-o", out, "--min-score-missing", "2"
    )
    assert result.exit_code == 2


def test_existing_output_refused_without_overwrite(scene, tmp_path):
    out = tmp_path / "fixed.tif"
    out.write_text("mine")
    result = run_cli("fix", scene["labels"], "--noise", scene["noise"], "-o", out)
    one_line_error(result, 1, "exists", "--overwrite")
    assert out.read_text() == "mine" and not (tmp_path / "fixed.review.gpkg").exists()
    result = run_cli("fix", scene["labels"], "--noise", scene["noise"], "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
