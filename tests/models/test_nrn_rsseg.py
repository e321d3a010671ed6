"""NRN-RSSEG: configuration, shapes on awkward sizes, padding, and that it can learn."""

from __future__ import annotations

import io
import json

import pytest
import torch

from geonoise.models.cbam import CBAM
from geonoise.models.nrn_rsseg import (
    NRNRSSEG,
    PRESETS,
    ModelConfig,
    model_config,
    pad_to_multiple,
    predict_logits,
)
from geonoise.training.losses import SymmetricCrossEntropy


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("config", "size"),
    [
        (ModelConfig(base_width=4, depth=4), (48, 48)),
        (ModelConfig(base_width=4, depth=4), (80, 112)),
        (ModelConfig(base_width=4, depth=4, num_classes=5, in_channels=4), (96, 160)),
        (ModelConfig(base_width=8, depth=3), (40, 24)),
        (ModelConfig(base_width=6, depth=2, bridge_width=10), (12, 36)),
        (ModelConfig(base_width=3, depth=1, reduction=16, spatial_kernel=3), (6, 10)),
    ],
)
def test_output_and_hint_shapes(config: ModelConfig, size: tuple[int, int]) -> None:
    model = NRNRSSEG(config)
    height, width = size
    logits, hint = model(torch.randn(2, config.in_channels, height, width))
    assert logits.shape == (2, config.num_classes, height, width)
    scale = model.multiple
    assert hint.shape == (2, model.hint_channels, height // scale, width // scale)


def test_seed_preset_matches_seed_network() -> None:
    config = PRESETS["seed"]
    assert config.encoder_widths == (32, 64, 128, 256)
    model = NRNRSSEG(config)
    assert (model.hint_channels, model.multiple) == (512, 16)
    _, hint = model(torch.randn(1, 3, 64, 96))
    assert hint.shape == (1, 512, 4, 6)


@pytest.mark.parametrize("size", [(37, 53), (1, 1), (5, 64), (64, 64), (17, 3)])
def test_predict_logits_on_any_size(size: tuple[int, int]) -> None:
    model = NRNRSSEG(model_config("tiny", num_classes=3)).eval()
    with torch.no_grad():
        logits = predict_logits(model, torch.randn(2, 3, *size))
    assert logits.shape == (2, 3, *size)


def test_pad_to_multiple_reflects_and_falls_back() -> None:
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(1, 2, 5, 6)
    padded, size = pad_to_multiple(x, 8)
    assert size == (5, 6)
    assert padded.shape == (1, 2, 8, 8)
    assert torch.equal(padded[..., :5, :6], x)
    assert torch.equal(padded[..., 5, :6], x[..., 3, :])  # reflect: row 5 mirrors row 3
    tiny, _ = pad_to_multiple(x[..., :2, :2], 8)  # too small to reflect: replicate
    assert torch.equal(tiny[..., 7, 7], x[..., 1, 1])
    same, _ = pad_to_multiple(x[..., :4, :4], 4)
    assert torch.equal(same, x[..., :4, :4])


def test_cbam_keeps_shape_with_narrow_channels() -> None:
    cbam = CBAM(channels=3, reduction=16)  # hidden width would be 0 without the guard
    assert cbam.channel.mlp[0].out_channels == 1
    x = torch.randn(2, 3, 7, 9)
    assert cbam(x).shape == x.shape


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_classes", 1),
        ("in_channels", 0),
        ("base_width", 0),
        ("depth", 0),
        ("bridge_width", 0),
        ("reduction", 0),
        ("spatial_kernel", 6),
        ("base_width", 8.0),
        ("depth", True),
        ("in_channels", 1025),  # bounds keep a model file from exhausting memory
        ("num_classes", 256),
        ("depth", 9),
        ("base_width", 512),  # 8192 channels at the bridge
        ("bridge_width", 5000),
        ("spatial_kernel", 33),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("dropout", "0.1"),
    ],
)
def test_bad_config_raises(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_dropout_noises_training_only_and_leaves_the_hint_whole() -> None:
    torch.manual_seed(0)
    model = NRNRSSEG(model_config("tiny", dropout=0.5))
    plain = NRNRSSEG(model_config("tiny"))
    plain.load_state_dict(model.state_dict())  # dropout adds no weights: same checkpoints
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    plain.eval()
    with torch.no_grad():
        (a, hint_a), (b, hint_b) = model(x), plain(x)
        assert torch.equal(a, b) and torch.equal(hint_a, hint_b)
        model.train()
        plain.train()
        (a, hint_a), (b, hint_b) = model(x), plain(x)
    assert torch.equal(hint_a, hint_b)  # distillation compares the whole hint
    assert not torch.allclose(a, b)  # the decoder saw dropped channels


def test_config_round_trips_through_json() -> None:
    for config in [*PRESETS.values(), ModelConfig(in_channels=4, num_classes=6, bridge_width=48)]:
        assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_names_unknown_key() -> None:
    with pytest.raises(ValueError, match="'width'"):
        ModelConfig.from_dict({"width": 3})
    with pytest.raises(ValueError, match="maps hyper-parameters to values, got 'tiny'"):
        ModelConfig.from_dict("tiny")


def test_model_config_overrides_and_unknown_preset() -> None:
    config = model_config("seed", base_width=16, num_classes=4)
    assert (config.base_width, config.num_classes, config.hint_channels) == (16, 4, 256)
    assert PRESETS["seed"].base_width == 32
    with pytest.raises(ValueError, match="huge"):
        model_config("huge")


def test_parameter_count_follows_config() -> None:
    counts = {name: n_params(NRNRSSEG(config)) for name, config in PRESETS.items()}
    assert 5_000_000 < counts["seed"] < 10_000_000  # 7,774,346 for 3 bands, 2 classes
    assert counts["tiny"] < counts["small"] < counts["seed"]
    # Halving every width roughly quarters the 3×3 convolutions.
    assert 3.5 < counts["seed"] / counts["small"] < 4.5
    wider_head = NRNRSSEG(model_config("seed", num_classes=3))
    assert n_params(wider_head) - counts["seed"] == 32 + 1  # one more 1×1 output channel


def shapes_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two 64×64 images with bright rectangles and discs ("buildings") on textured ground."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    masks = torch.zeros(2, 64, 64, dtype=torch.int64)
    masks[0, 8:24, 10:30] = 1
    masks[0, ((yy - 44) ** 2 + (xx - 40) ** 2) < 100] = 1
    masks[1, 30:50, 5:20] = 1
    masks[1, ((yy - 16) ** 2 + (xx - 48) ** 2) < 64] = 1
    images = 0.3 * torch.randn(2, 3, 64, 64, generator=gen)
    images += masks[:, None].float() * torch.tensor([1.0, 0.5, -0.5])[:, None, None]
    return images, masks


@pytest.mark.slow
def test_tiny_model_overfits_simple_shapes() -> None:
    torch.manual_seed(0)
    images, masks = shapes_batch()
    model = NRNRSSEG(PRESETS["tiny"])
    loss_fn = SymmetricCrossEntropy()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        logits, _ = model(images)
        loss = loss_fn(logits, masks)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
    model.eval()
    with torch.no_grad():
        accuracy = (model(images)[0].argmax(1) == masks).float().mean()
    assert accuracy > 0.98


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_exports_to_onnx_with_dynamic_size() -> None:
    ort = pytest.importorskip("onnxruntime")
    model = NRNRSSEG(PRESETS["tiny"]).eval()
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (torch.randn(1, 3, 64, 96),),
        buffer,
        input_names=["image"],
        output_names=["logits", "hint"],
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}},
        dynamo=False,  # the torch.export-based exporter needs onnxscript
    )
    session = ort.InferenceSession(buffer.getvalue())
    image = torch.randn(2, 3, 48, 80)
    logits, hint = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        expected_logits, expected_hint = model(image)
    assert torch.allclose(torch.from_numpy(logits), expected_logits, atol=1e-4)
    assert torch.allclose(torch.from_numpy(hint), expected_hint, atol=1e-4)
