"""Did it learn? Classes near zero IoU are named, with the likely causes."""

from __future__ import annotations

from geonoise.training.diagnosis import diagnose

NAMES, VALUES = ["background", "building"], [0, 1]


def test_a_model_that_learned_both_classes_raises_no_warning():
    metrics = {"val_iou_background": 0.93, "val_iou_building": 0.71}
    result = diagnose(
        metrics, NAMES, VALUES, {0: 0.9, 1: 0.1}, {0: 0.9, 1: 0.1}, steps=2000, train_tiles=40
    )
    assert result.learned and result.warnings == []
    assert result.to_dict()["classes"][1] == {
        "name": "building",
        "value": 1,
        "iou": 0.71,
        "train_share": 0.1,
        "val_share": 0.1,
        "learned": True,
    }


def test_majority_only_names_the_class_and_the_causes():
    metrics = {"val_iou_background": 0.95, "val_iou_building": 0.004}
    result = diagnose(
        metrics,
        NAMES,
        VALUES,
        {0: 0.955, 1: 0.045},
        {0: 0.96, 1: 0.04},
        steps=80,
        train_tiles=5,
        band_std=[12.0, 1e-6, 9.0],
    )
    assert not result.learned and len(result.warnings) == 1
    text = result.warnings[0]
    assert "learned nothing of building (IoU 0.00): it predicts little but background" in text
    assert "only 80 optimizer steps" in text and "4.5% of the training pixels" in text
    assert "only 5 training tiles" in text and "band 2 is constant" in text
    assert result.to_dict()["learned"] is False


def test_classes_absent_from_validation_are_not_judged():
    metrics = {"val_iou_a": 0.8, "val_iou_b": 0.0, "val_iou_c": 0.6}
    shares = {1: 0.5, 2: 0.2, 3: 0.3}
    result = diagnose(
        metrics, ["a", "b", "c"], [1, 2, 3], shares, {1: 0.6, 3: 0.4}, steps=900, train_tiles=20
    )
    assert result.learned and result.classes[1].iou is None and result.classes[1].learned is None


def test_a_class_missing_from_training_is_said_so():
    metrics = {"val_iou_a": 0.8, "val_iou_b": 0.01, "val_iou_c": 0.6}
    result = diagnose(
        metrics,
        ["a", "b", "c"],
        [1, 2, 3],
        {1: 0.7, 3: 0.3},
        {1: 0.5, 2: 0.1, 3: 0.4},
        steps=3000,
        train_tiles=50,
    )
    assert not result.learned
    assert "learned nothing of b (IoU 0.01);" in result.warnings[0]
    assert "b is absent from the training tiles" in result.warnings[0]
