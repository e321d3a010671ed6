"""detect: blended noise maps on the scene grid, tile rankings, many scenes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from geonoise.cli.main import cli
from geonoise.contracts import NODATA
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import detect_scene
from geonoise.detection.scores import ThresholdAccumulator, predicted_class
from geonoise.detection.tiles import RankOptions, rank_tiles
from geonoise.errors import InvalidInputError
from geonoise.models.checkpoint import ModelMeta, save_model
from geonoise.models.nrn_rsseg import NRNRSSEG, model_config
from tests.conftest import write_scene


class PixelModel:
    """A stand-in model whose building probability is band 1 / 255, pixel by pixel.

    Every window sees the same value at a pixel, so any blending of overlapping
    windows must give exactly that value: seams, gaps or shifted windows show.
    """

    multiple = 8

    def __init__(self, bands: int = 3, tile_size: int = 32) -> None:
        self.meta = ModelMeta(
            model=model_config("tiny", in_channels=bands).to_dict(),
            class_names=["background", "building"],
            band_mean=[0.0] * bands,
            band_std=[1.0] * bands,
            tile_size=tile_size,
        )
        self.calls = 0

    def predict(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        building = image[:, 0] / 255.0
        return np.stack([1 - building, building], axis=1).astype(np.float32)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def scene_with_labels(tmp_path: Path, width: int, height: int, nodata_corner: bool = True):
    rng = np.random.default_rng(3)
    data = rng.integers(1, 255, (3, height, width)).astype("uint8")
    if nodata_corner:
        data[:, :7, :9] = 0
    scene = write_scene(tmp_path / "scene.tif", width, height, data=data, nodata=0)
    label = rng.integers(0, 2, (1, height, width)).astype("uint8")
    label[0, -3:, :] = 255  # an unlabelled strip
    labels = write_scene(tmp_path / "labels.tif", width, height, data=label)
    return scene, labels, data, label[0]


@pytest.mark.parametrize(
    ("width", "height", "window", "overlap", "chunk"),
    [(83, 61, 32, 12, None), (40, 100, 16, 5, None), (20, 13, 32, 8, None), (83, 61, 32, 12, 24)],
)
def test_blended_noise_map_equals_the_formula_everywhere(
    tmp_path, monkeypatch, width, height, window, overlap, chunk
):
    if chunk is not None:  # strips scored in column chunks that do not divide the width
        monkeypatch.setattr("geonoise.detection.scenes.STRIP_CHUNK", chunk)
    scene, labels, data, label = scene_with_labels(tmp_path, width, height)
    options = DetectOptions(window=window, overlap=overlap, batch_size=3, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    p_building = data[0] / 255.0
    expected = np.where(label == 1, 1 - p_building, p_building)
    invalid = (data == 0).all(axis=0) | (label == 255)
    expected[invalid] = NODATA
    with rasterio.open(scene) as src, rasterio.open(outputs.noise) as noise:
        assert (noise.crs, noise.transform, noise.shape) == (src.crs, src.transform, src.shape)
        assert noise.nodata == NODATA and noise.descriptions == ("noise_score",)
        np.testing.assert_allclose(noise.read(1), expected, atol=1e-6)
    with rasterio.open(outputs.classes) as classes:
        given, predicted = classes.read()
        np.testing.assert_array_equal(given, np.where((data == 0).all(axis=0), 255, label))
        assert set(np.unique(predicted)) <= {0, 1, 255}


def test_constant_model_and_confident_learning_thresholds(tmp_path):
    scene, labels, _, label = scene_with_labels(tmp_path, 50, 40, nodata_corner=False)

    class Constant(PixelModel):
        def predict(self, image):
            out = np.empty((image.shape[0], 2, *image.shape[2:]), np.float32)
            out[:, 0], out[:, 1] = 0.3, 0.7
            return out

    options = DetectOptions(window=16, overlap=4, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "sc.tif", options)
    detect_scene(str(scene), str(labels), Constant(), outputs, options)
    with rasterio.open(outputs.noise) as noise:
        values = noise.read(1)
    np.testing.assert_allclose(values[label == 0], 0.7, atol=1e-6)
    np.testing.assert_allclose(values[label == 1], 0.3, atol=1e-6)
    # Confident learning: thresholds are the mean p(label) per class (0.3 and 0.7), so the
    # calibrated probabilities are equal and every labelled pixel scores 0.5.
    cl = DetectOptions(window=16, overlap=4, quicklook=False, method="confident-learning")
    outputs = SceneOutputs.beside(tmp_path / "cl.tif", cl)
    summary = detect_scene(str(scene), str(labels), Constant(), outputs, cl)
    assert summary.class_thresholds == pytest.approx([0.3, 0.7])
    with rasterio.open(outputs.noise) as noise:
        np.testing.assert_allclose(noise.read(1)[label != 255], 0.5, atol=1e-6)


def test_tta_is_the_default_and_averages_the_eight_views_without_moving_pixels(tmp_path):
    scene, labels, data, label = scene_with_labels(tmp_path, 48, 48)
    plain = DetectOptions(window=16, overlap=0, quicklook=False, tta=False)
    model = PixelModel()
    detect_scene(
        str(scene), str(labels), model, SceneOutputs.beside(tmp_path / "a.tif", plain), plain
    )
    assert model.calls == 3  # three window rows, one batch each
    options = DetectOptions(window=16, overlap=0, quicklook=False)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    model = PixelModel()
    detect_scene(str(scene), str(labels), model, outputs, options)
    assert model.calls == 8 * 3  # eight views per batch
    p_building = data[0] / 255.0
    valid = ~((data == 0).all(axis=0) | (label == 255))
    with rasterio.open(outputs.noise) as noise:
        values = noise.read(1)
    expected = np.where(label == 1, 1 - p_building, p_building)
    np.testing.assert_allclose(values[valid], expected[valid], atol=1e-6)


def test_predicted_class_is_argmax_ties_to_the_lower_class():
    rng = np.random.default_rng(8)
    probs = rng.integers(0, 4, (5, 30, 40)).astype(np.float32)  # many ties
    expected = probs.argmax(0)
    got = predicted_class(probs)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


def test_threshold_accumulator_fast_path_equals_the_masked_one():
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.ones(3), (50, 60)).transpose(2, 0, 1).astype(np.float32)
    labels = rng.integers(0, 3, (50, 60)).astype(np.uint8)
    labels[:5] = 255  # ignored
    labels[5:8] = 7  # a class the model does not know
    fast, masked = ThresholdAccumulator(3), ThresholdAccumulator(3)
    fast.update(probs, labels)
    masked.update(probs, labels.astype(np.int64))  # signed labels take the masked way
    np.testing.assert_allclose(fast.sums, masked.sums, rtol=1e-12)
    np.testing.assert_array_equal(fast.counts, masked.counts)
    # a NaN probability of a labelled pixel is left out, as on the masked way
    label_there = int(labels[20, 20])
    p_there = float(probs[label_there, 20, 20])
    probs[:, 20, 20] = np.nan
    with_nan = ThresholdAccumulator(3)
    with_nan.update(probs, labels)
    counts = masked.counts.copy()
    counts[label_there] -= 1
    np.testing.assert_array_equal(with_nan.counts, counts)
    sums = masked.sums.copy()
    sums[label_there] -= p_there
    np.testing.assert_allclose(with_nan.sums, sums, rtol=1e-9)


def test_tile_scores_count_the_threshold_and_skip_unscored_pixels():
    from geonoise.detection.tiles import tile_scores

    noise = np.array([[0.2, 0.5], [0.5, 0.9], [np.nan, np.nan]], np.float32)
    probs = np.stack([1 - noise, noise])
    label = np.array([[1, 1], [1, 1], [255, 255]], np.uint8)
    scores = tile_scores(noise, probs, label, 0.5)
    assert scores["fraction"] == 0.75  # a score at the threshold counts as noisy
    assert scores["mean"] == pytest.approx(0.525)
    assert scores["labelled"] == 4
    # predicted: class 1 only at 0.9 (ties go to class 0): IoU 0 for class 0, 1/4 for class 1
    assert scores["iou"] == pytest.approx(1 - (0 + 1 / 4) / 2)


def test_a_model_giving_nan_scores_nothing_there(tmp_path):
    scene, labels, _, label = scene_with_labels(tmp_path, 64, 64)

    class NaNModel(PixelModel):
        def predict(self, image):
            probs = super().predict(image)
            probs[:, :, 10:12, 10:12] = np.nan  # 2×2 pixels of every 32-px window
            return probs

    options = DetectOptions(window=32, overlap=0, quicklook=False, tta=False)
    outputs = SceneOutputs.beside(tmp_path / "n.tif", options)
    summary = detect_scene(str(scene), str(labels), NaNModel(), outputs, options)
    with rasterio.open(outputs.noise) as noise:
        score = noise.read(1)
    assert not np.isnan(score).any()
    nan_pixels = np.zeros_like(score, bool)
    for top in (0, 32):
        for left in (0, 32):
            nan_pixels[top + 10 : top + 12, left + 10 : left + 12] = True
    assert (score[nan_pixels] == NODATA).all()
    with rasterio.open(scene) as src:
        valid = src.dataset_mask() > 0
    scored = valid & (label != 255) & ~nan_pixels
    assert summary.scored_pixels == int(scored.sum())
    assert np.isfinite(summary.mean_score)


class ReadOnlyModel(PixelModel):
    """Returns arrays it may keep (read-only), as a caching predictor could."""

    def predict(self, image):
        probs = super().predict(image)
        probs.setflags(write=False)
        return probs


def test_predictor_arrays_are_not_written_to(tmp_path):
    scene, labels, _, _ = scene_with_labels(tmp_path, 50, 40)
    options = DetectOptions(window=32, overlap=8, quicklook=False, tta=False)
    for name, model in (("plain", PixelModel()), ("read_only", ReadOnlyModel())):
        detect_scene(
            str(scene), str(labels), model, SceneOutputs.beside(tmp_path / f"{name}.tif", options),
            options,
        )  # fmt: skip
    with rasterio.open(tmp_path / "plain.tif") as a, rasterio.open(tmp_path / "read_only.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_probabilities_and_quicklook_and_styles(tmp_path):
    scene, labels, *_ = scene_with_labels(tmp_path, 64, 64)
    options = DetectOptions(window=32, overlap=8, probabilities=True)
    outputs = SceneOutputs.beside(tmp_path / "noise.tif", options)
    detect_scene(str(scene), str(labels), PixelModel(), outputs, options)
    with rasterio.open(outputs.probabilities) as probs:
        assert probs.count == 2 and probs.descriptions == ("p(background)", "p(building)")
        values = probs.read()
        total = values.sum(axis=0)[values[0] != NODATA]
        np.testing.assert_allclose(total, 1, atol=1e-5)
    assert outputs.quicklook.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "noise.qml").exists() and (tmp_path / "noise.classes.qml").exists()
    with rasterio.open(outputs.noise) as noise:
        assert noise.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert noise.compression.name.lower() == "zstd"
        assert noise.overviews(1) == []  # 64 px: smaller than one 512-px COG block


def test_errors_leave_no_output(tmp_path):
    scene, labels, *_ = scene_with_labels(tmp_path, 40, 40)
    options = DetectOptions(window=16, overlap=0, quicklook=False)
    six = PixelModel(bands=6)
    with pytest.raises(InvalidInputError, match="takes 6 bands"):
        detect_scene(
            str(scene), str(labels), six, SceneOutputs.beside(tmp_path / "a.tif", options), options
        )
    many = write_scene(tmp_path / "many.tif", 40, 40, data=np.full((1, 40, 40), 4, "uint8"))
    with pytest.raises(InvalidInputError, match="class 4"):
        detect_scene(
            str(scene),
            str(many),
            PixelModel(),
            SceneOutputs.beside(tmp_path / "b.tif", options),
            options,
        )
    with pytest.raises(InvalidInputError, match="multiple of 8"):
        DetectOptions(window=20).window_for(PixelModel())
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["labels.tif", "many.tif", "scene.tif"]


def test_tile_ranking_orders_tiles_by_injected_noise(scene_factory, tmp_path):
    """Tiles whose labels were flipped on more pixels rank as noisier."""
    from geonoise.data.tiledir import open_tiles
    from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles

    clean = np.zeros((64, 128), "uint8")
    clean[10:50, 5:60] = 1
    clean[10:50, 70:120] = 1
    image = np.where(clean == 1, 240, 15).astype("uint8")[None].repeat(3, 0)
    noisy = clean.copy()
    flips = {0: 0, 32: 40, 64: 160, 96: 600}  # column offset of a 32-wide tile → pixels flipped
    rng = np.random.default_rng(0)
    for col, count in flips.items():
        rows, cols = np.unravel_index(rng.choice(64 * 32, count, replace=False), (64, 32))
        noisy[rows, cols + col] ^= 1
    scene = scene_factory(width=128, height=64, data=image)
    labels = scene_factory("noisy.tif", width=128, height=64, data=noisy[None])
    opts = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "tiles", opts)
    dataset = open_tiles(str(tmp_path / "tiles"))
    for score in ("mean", "softmin", "fraction", "iou"):
        out = tmp_path / f"rank_{score}"
        summary = rank_tiles(
            dataset,
            PixelModel(),
            out,
            DetectOptions(quicklook=False),
            RankOptions(tile_score=score),
        )
        ranking = (out / "ranking.csv").read_text().splitlines()
        assert ranking[0].startswith("id,imageid,score")
        order = [line.split(",")[1] for line in ranking[1:]]
        columns = [int(name.split("_c")[1]) for name in order]
        # Rows r0 and r32 of each column share its noise level; clean columns first.
        assert [flips[c] for c in columns] == sorted(flips[c] for c in columns), score
        layer = gpd.read_file(out / "ranking.gpkg", layer="tiles")
        assert list(layer["rank"]) == list(range(8)) and summary.tiles == 8
        assert (out / "noise" / f"{order[0]}.tif").exists()


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
