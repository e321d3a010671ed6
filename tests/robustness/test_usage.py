"""Option values that once slipped through or failed as "unexpected" errors."""

from __future__ import annotations

import pytest

from tests.conftest import make_model_file, run_cli


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "--resolution", "nan"],
        ["synth", "--origin", "nan", "0"],
        ["vectorize", "in.tif", "--threshold", "nan"],
        ["detect", "in.tif", "-l", "l.tif", "-m", "m.ckpt", "--threshold", "nan"],
        ["evaluate", "--min-cover", "nan", "in.tif", "--truth", "t.tif", "--plot", "out"],
        ["train-teacher", "tiles", "--lr", "nan"],
        ["train-teacher", "tiles", "--lr", "inf"],
    ],
)
def test_nan_and_inf_are_usage_errors(tmp_path, args):
    args = [str(tmp_path / "out") if a == "out" else a for a in args]
    result = run_cli(*args, *([] if args[0] == "evaluate" else ["-o", tmp_path / "out"]))
    assert result.exit_code == 2, result.output
    assert "is not a finite number" in result.stderr or "range" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", [16, 17])
def test_synth_makes_the_smallest_scenes_it_allows(tmp_path, size):
    result = run_cli("-q", "synth", "-o", tmp_path / "s", "--size", size, size)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("content", ["", "# only a comment\n\n"])
def test_an_empty_list_file_is_an_error_not_a_silent_success(tmp_path, content):
    listing = tmp_path / "scenes.txt"
    listing.write_text(content)
    model = make_model_file(tmp_path / "m.ckpt")
    result = run_cli("detect", f"@{listing}", "-l", model, "-m", model, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "names no path" in result.stderr
