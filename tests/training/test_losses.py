"""Losses: symmetric cross entropy, the hint loss and the student's mix of the two."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from geonoise.contracts import IGNORE
from geonoise.training.losses import HintLoss, StudentLoss, SymmetricCrossEntropy

A = math.log(1e-4)


def logits_and_target(
    n: int = 2, k: int = 3, h: int = 5, w: int = 7, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, h, w, generator=gen)
    target = torch.randint(0, k, (n, h, w), generator=gen)
    target[0, 0, :3] = IGNORE
    return logits, target


def test_sce_reduces_to_cross_entropy() -> None:
    logits, target = logits_and_target()
    sce = SymmetricCrossEntropy(alpha=1.0, beta=0.0)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE)
    assert torch.allclose(sce(logits, target), expected, atol=1e-6)


def test_rce_is_minus_a_times_one_minus_p_label() -> None:
    logits, target = logits_and_target()
    rce = SymmetricCrossEntropy(alpha=0.0, beta=1.0).pixel_loss(logits, target)
    valid = target != IGNORE
    p_label = logits.softmax(1).gather(1, target.clamp(max=2)[:, None])[:, 0]
    assert torch.allclose(rce[valid], -A * (1 - p_label[valid]), atol=1e-5)
    assert torch.all(rce[~valid] == 0)


def test_sce_accepts_uint8_labels() -> None:
    logits, target = logits_and_target()
    sce = SymmetricCrossEntropy()
    assert torch.equal(sce(logits, target.to(torch.uint8)), sce(logits, target))


def test_log_zero_scales_rce() -> None:
    logits, target = logits_and_target()
    base = SymmetricCrossEntropy(alpha=0.0, beta=1.0)(logits, target)
    scaled = SymmetricCrossEntropy(alpha=0.0, beta=1.0, log_zero=2 * A)(logits, target)
    assert torch.allclose(scaled, 2 * base)


def test_sce_mixes_its_terms() -> None:
    logits, target = logits_and_target()
    ce = SymmetricCrossEntropy(alpha=1.0, beta=0.0)(logits, target)
    rce = SymmetricCrossEntropy(alpha=0.0, beta=1.0)(logits, target)
    mixed = SymmetricCrossEntropy(alpha=0.3, beta=2.0)(logits, target)
    assert torch.allclose(mixed, 0.3 * ce + 2.0 * rce, atol=1e-6)


def test_rce_stays_bounded_on_flipped_labels_while_ce_grows() -> None:
    """A confidently contradicted (flipped) label: CE grows without bound, RCE tends to -A."""
    target = torch.zeros(1, 1, 1, dtype=torch.int64)  # the label says class 0 ...
    ce_fn = SymmetricCrossEntropy(alpha=1.0, beta=0.0)
    rce_fn = SymmetricCrossEntropy(alpha=0.0, beta=1.0)
    sce_fn = SymmetricCrossEntropy()  # alpha = beta = 0.5
    ce, rce, sce = [], [], []
    for confidence in [2.0, 8.0, 32.0, 128.0, 512.0]:  # ... the network says class 1
        logits = torch.tensor([0.0, confidence]).reshape(1, 2, 1, 1)
        for values, fn in ((ce, ce_fn), (rce, rce_fn), (sce, sce_fn)):
            values.append(fn(logits, target).item())
    assert all(b > a for a, b in itertools.pairwise(ce)) and ce[-1] > 500
    assert max(rce) <= -A + 1e-6 and rce[-1] == pytest.approx(-A, rel=1e-4)
    rce_over_ce = [r / c for r, c in zip(rce, ce, strict=True)]  # 3.8 ... 0.018
    assert rce_over_ce[0] > 3 and rce_over_ce[-1] < 0.02
    # SCE grows only through its CE part: SCE / CE falls towards alpha.
    sce_over_ce = [s / c for s, c in zip(sce, ce, strict=True)]
    assert all(b < a for a, b in itertools.pairwise(sce_over_ce))
    assert sce_over_ce[-1] == pytest.approx(0.5, abs=0.01)


def test_ignored_pixels_get_exactly_zero_gradient() -> None:
    logits, target = logits_and_target()
    logits.requires_grad_(True)
    SymmetricCrossEntropy()(logits, target).backward()
    ignored = (target == IGNORE)[:, None].expand_as(logits)
    assert torch.all(logits.grad[ignored] == 0)
    assert torch.all(logits.grad[~ignored] != 0)


def test_all_ignored_batch_gives_zero_with_grad() -> None:
    logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), IGNORE)
    loss = SymmetricCrossEntropy()(logits, target)
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.all(logits.grad == 0)


@pytest.mark.parametrize(
    "kwargs", [{"alpha": -1.0}, {"beta": -0.1}, {"log_zero": 0.0}, {"log_zero": 1.0}]
)
def test_sce_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SymmetricCrossEntropy(**kwargs)


def test_hint_loss_zero_when_regressor_matches_teacher() -> None:
    hint = HintLoss(student_channels=6, teacher_channels=10)
    student = torch.randn(2, 6, 4, 5)
    teacher = hint.regressor(student).detach()
    assert hint(student, teacher).item() == pytest.approx(0.0, abs=1e-12)
    assert hint(student, teacher + 1.0).item() == pytest.approx(1.0, rel=1e-5)


def test_hint_loss_starts_as_identity_when_widths_match() -> None:
    hint = HintLoss(8, 8)
    student = torch.randn(1, 8, 3, 3)
    assert hint(student, student.clone()).item() == pytest.approx(0.0, abs=1e-12)
    assert any(p.requires_grad for p in hint.parameters())


def test_hint_loss_resizes_to_teacher() -> None:
    hint = HintLoss(4, 6)
    student = torch.randn(2, 4, 4, 4, requires_grad=True)
    teacher = torch.randn(2, 6, 8, 8)
    regressed = F.interpolate(hint.regressor(student), size=(8, 8), mode="bilinear")
    assert torch.allclose(hint(student, teacher), F.mse_loss(regressed, teacher))


def test_no_gradient_reaches_teacher_hint() -> None:
    hint = HintLoss(4, 4)
    student = torch.randn(1, 4, 3, 3, requires_grad=True)
    teacher = torch.randn(1, 4, 3, 3, requires_grad=True)
    hint(student, teacher).backward()
    assert teacher.grad is None
    assert student.grad is not None and hint.regressor.weight.grad is not None


def test_hint_loss_rejects_mismatched_channels() -> None:
    hint = HintLoss(4, 6)
    with pytest.raises(ValueError, match="teacher hint"):
        hint(torch.randn(1, 4, 2, 2), torch.randn(1, 5, 2, 2))


def student_inputs() -> tuple[torch.Tensor, ...]:
    logits, target = logits_and_target()
    return logits, target, torch.randn(2, 4, 2, 2), torch.randn(2, 8, 2, 2)


@pytest.mark.parametrize(("weight", "key"), [(0.0, "sce"), (1.0, "distill")])
def test_student_loss_extremes(weight: float, key: str) -> None:
    loss_fn = StudentLoss(SymmetricCrossEntropy(), HintLoss(4, 8), distill_weight=weight)
    parts = loss_fn(*student_inputs())
    assert set(parts) == {"loss", "sce", "distill"}
    assert torch.equal(parts["loss"], parts[key])


def test_student_loss_mixes_and_holds_the_regressor() -> None:
    hint = HintLoss(4, 8)
    loss_fn = StudentLoss(SymmetricCrossEntropy(), hint, distill_weight=0.25)
    parts = loss_fn(*student_inputs())
    assert torch.allclose(parts["loss"], 0.25 * parts["distill"] + 0.75 * parts["sce"])
    assert hint.regressor.weight in set(loss_fn.parameters())


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_student_loss_rejects_bad_weight(weight: float) -> None:
    with pytest.raises(ValueError, match="distill_weight"):
        StudentLoss(SymmetricCrossEntropy(), HintLoss(1, 1), distill_weight=weight)
