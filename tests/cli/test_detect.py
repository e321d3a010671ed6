"""geonoise detect from the command line: many scenes, lists, errors, torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geonoise.models.checkpoint import ModelMeta, save_model
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from tests.conftest import run_cli as run
from tests.conftest import scene_with_labels, write_scene


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A tiny random-weight model file (for CLI plumbing, not for quality)."""
    path = tmp_path_factory.mktemp("model") / "tiny.ckpt"
    model = NRNRSSEG(model_config("tiny"))
    meta = ModelMeta(
        model=model_config("tiny").to_dict(),
        class_names=["background", "building"],
        band_mean=[128.0] * 3,
        band_std=[64.0] * 3,
        tile_size=32,
    )
    save_model(path, model, meta)
    return path


def test_cli_many_scenes_list_file_and_skip_existing(tmp_path, model_file):
    scenes = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        scenes.append(scene_with_labels(folder, 48, 40)[:2])
    listing = tmp_path / "scenes.txt"
    listing.write_text("# scenes\n" + "\n".join(str(s) for s, _ in scenes) + "\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(str(lab) for _, lab in scenes))
    out = tmp_path / "out"
    args = [
        "-q",
        "detect",
        f"@{listing}",
        "-l",
        f"@{labels}",
        "-m",
        model_file,
        "-o",
        out,
        "--window",
        32,
        "--overlap",
        8,
        "--no-quicklook",
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert "scene-1.noise.tif" in written and "scene-2.noise.classes.tif" in written
    again = run(*args)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    skipped = run(*args, "--skip-existing", "--json")
    assert skipped.exit_code == 0
    assert [s["status"] for s in json.loads(skipped.stdout)["scenes"]] == ["skipped"] * 2


def test_cli_on_error_skip_goes_on_and_reports(tmp_path, model_file):
    good, labels, *_ = scene_with_labels(tmp_path, 48, 40)
    bare = write_scene(tmp_path / "bare.tif", 48, 40, crs=None)
    out = tmp_path / "out"
    result = run(
        "detect",
        bare,
        good,
        "-l",
        labels,
        "-m",
        model_file,
        "-o",
        out,
        "--window",
        32,
        "--no-quicklook",
        "--on-error",
        "skip",
    )
    assert result.exit_code == 1
    assert "1 of 2 scenes failed" in result.stderr and "no CRS" in result.stderr
    assert (out / "scene.noise.tif").exists() and not (out / "bare.noise.tif").exists()


@pytest.mark.parametrize(
    ("make", "code", "fragment"),
    [
        ("bare", 1, "no CRS"),
        ("six_bands", 2, "takes 3 bands"),
        ("far_labels", 1, "does not overlap"),
    ],
)
def test_cli_errors(tmp_path, model_file, make, code, fragment):
    scene, labels, *_ = scene_with_labels(tmp_path, 48, 40)
    if make == "bare":
        scene = write_scene(tmp_path / "bare.tif", 48, 40, crs=None)
    elif make == "six_bands":
        scene = write_scene(tmp_path / "six.tif", 48, 40, count=6)
    else:
        labels = write_scene(tmp_path / "far.tif", 48, 40, count=1, origin=(0.0, 0.0))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(
        "detect", scene, "-l", labels, "-m", model_file, "-o", tmp_path / "n.tif", "--window", 32
    )
    assert result.exit_code == code, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_usage_errors(tmp_path, model_file):
    scene, labels, *_ = scene_with_labels(tmp_path, 48, 40)
    assert run("detect", "-m", model_file, "-o", tmp_path / "x").exit_code == 2
    missing = run("detect", "@nope.txt", "-m", model_file, "-o", tmp_path / "x")
    assert missing.exit_code == 2 and "nope.txt" in missing.stderr
    window = run(
        "detect", scene, "-l", labels, "-m", model_file, "-o", tmp_path / "x.tif", "--window", 36
    )
    assert window.exit_code == 2 and "multiple of 8" in window.stderr


@pytest.mark.slow
def test_torchrun_shares_the_scenes_between_two_processes(tmp_path, model_file):
    scenes = []
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        scenes.append(scene_with_labels(folder, 48, 40))
    torchrun = Path(sys.executable).with_name("torchrun")
    geonoise = Path(sys.executable).with_name("geonoise")
    out = tmp_path / "out"
    command = [
        str(torchrun),
        "--standalone",
        "--nproc-per-node",
        "2",
        str(geonoise),
        "-q",
        "detect",
        *(str(s[0]) for s in scenes),
        *[arg for s in scenes for arg in ("-l", str(s[1]))],
        "-m",
        str(model_file),
        "-o",
        str(out),
        "--window",
        "32",
        "--no-quicklook",
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    reports = [json.loads(chunk) for chunk in _json_documents(done.stdout)]
    assert sorted(r["rank"] for r in reports) == [0, 1]
    processed = sorted(s["scene"] for r in reports for s in r["scenes"])
    assert processed == sorted(str(s[0]) for s in scenes)  # each scene once
    assert len(list(out.glob("*.noise.tif"))) == 3


def _json_documents(text: str) -> list[str]:
    decoder, position, documents = json.JSONDecoder(), 0, []
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        _, end = decoder.raw_decode(text, position)
        documents.append(text[position:end])
        position = end
    return documents


def test_the_summary_lists_every_output_with_its_style(tmp_path, model_file):
    scene, labels = scene_with_labels(tmp_path, 48, 40)[:2]
    out = tmp_path / "noise.tif"
    result = run("detect", scene, "-l", labels, "-m", model_file, "-o", out, "--probabilities")
    assert result.exit_code == 0, result.output
    listed = result.stderr[result.stderr.index("wrote:") :].splitlines()[1:]
    assert [line.split()[0] for line in listed] == [
        str(out),
        str(tmp_path / "noise.classes.tif"),
        str(tmp_path / "noise.probs.tif"),
        str(tmp_path / "noise.quicklook.png"),
    ]
    assert "(style noise.qml)" in listed[0] and "(style noise.probs.qml)" in listed[2]
    assert result.stdout.strip() == str(out)  # scripts still read one path
    quiet = run("-q", "detect", scene, "-l", labels, "-m", model_file, "-o", out, "--overwrite")
    assert quiet.exit_code == 0 and quiet.stderr == ""
