"""A model's classes are the label values the labels hold (or declare), not 0..max."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geonoise.data.datasets import open_tiles
from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from geonoise.errors import InvalidInputError
from geonoise.models.checkpoint import ModelMeta, check_compatible
from geonoise.training.config import TrainConfig
from geonoise.training.meta import build_meta, class_values
from geonoise.training.tasks import TeacherTask
from tests.conftest import write_scene


def land_cover_tiles(tmp_path, values=(1, 2, 3)):
    """Tiles of a scene whose labels hold only ``values`` (and 255)."""
    scene = write_scene(tmp_path / "scene.tif", 64, 64)
    label = np.resize(np.asarray(values, np.uint8), (1, 64, 64))
    label[0, :4] = 255
    labels = write_scene(tmp_path / "lc.tif", 64, 64, data=label)
    opts = TileOptions(size=32)
    write_tiles(plan_tiling([str(scene)], [str(labels)], opts), tmp_path / "tiles", opts)
    return open_tiles(tmp_path / "tiles")


def test_classes_are_the_values_present_with_names_of_their_own(tmp_path):
    meta = ModelMeta.from_dict(build_meta(land_cover_tiles(tmp_path), TrainConfig(), "teacher"))
    assert meta.values == [1, 2, 3] and meta.num_classes == 3
    assert meta.class_names == ["class_1", "class_2", "class_3"]
    lut = meta.label_lut()
    assert lut[1] == 0 and lut[3] == 2 and lut[0] == 255 and lut[255] == 255
    assert meta.value_lut().tolist() == [1, 2, 3]


def test_the_task_trains_on_output_classes_of_the_label_values(tmp_path):
    meta = build_meta(land_cover_tiles(tmp_path), TrainConfig(), "teacher")
    task = TeacherTask(meta, augment=False).eval()
    mask = torch.tensor([[[1, 2], [3, 255]]])
    batch = task.on_after_batch_transfer({"image": torch.zeros(1, 3, 2, 2), "mask": mask}, 0)
    assert batch["mask"].tolist() == [[[0, 1], [2, 255]]]


def test_declared_values_and_names(tmp_path):
    data = land_cover_tiles(tmp_path)
    config = TrainConfig(class_values=[1, 2, 3, 4], class_names=["a", "b", "c", "d"])
    meta = ModelMeta.from_dict(build_meta(data, config, "teacher"))
    assert meta.values == [1, 2, 3, 4] and meta.class_names == ["a", "b", "c", "d"]
    with pytest.raises(InvalidInputError, match="3 class names for the 4 classes 1, 2, 3, 4"):
        build_meta(data, TrainConfig(class_values=[1, 2, 3, 4], class_names=["a", "b", "c"]), "t")


def test_class_values_rules():
    assert class_values([0, 1], None) == [0, 1]
    assert class_values([7, 1, 3], None) == [1, 3, 7]
    assert class_values([1], None) == [0, 1] and class_values([0], None) == [0, 1]
    assert class_values([5], None) == [0, 5] and class_values([], None) == [0, 1]
    assert class_values([1, 2], [1, 2, 9]) == [1, 2, 9]
    with pytest.raises(InvalidInputError, match="classes 3 too"):
        class_values([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInputError, match="distinct class ids"):
        class_values([1], [1, 1, 2])
    with pytest.raises(InvalidInputError, match="distinct class ids"):
        class_values([1], [1, 255])


def test_a_teacher_with_other_class_values_is_refused(tmp_path):
    meta = ModelMeta.from_dict(build_meta(land_cover_tiles(tmp_path), TrainConfig(), "teacher"))
    with pytest.raises(InvalidInputError, match=r"knows the classes 1, 2, 3, the data needs 0, 1"):
        check_compatible(meta, 3, [0, 1], "teacher t.ckpt", "--teacher")
