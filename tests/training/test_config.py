"""``--config`` files: values of the wrong type, aliases, binary and oversized files; the
reference config shipped with the package and ``--print-config``."""

from __future__ import annotations

import pytest

from geonoise.errors import InvalidInputError
from geonoise.training.config import (
    MAX_CONFIG_BYTES,
    TrainConfig,
    load_config_file,
    reference_config,
)
from tests.conftest import run_cli


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("epochs: 1.5\n", "epochs: 1.5 in"),
        ("steps: true\n", "is not a whole number"),
        ("augment: maybe\n", "is not true or false"),
        ("lr: fast\n", "is not a number"),
        ("sampler: everywhere\n", "is not one of windows, tiles"),
        ("class_names: [a, 3]\n", "is not a list of text"),
        ("class_values: 1\n", "is not a list of a whole number"),
        ("a: &a [x, x]\nclass_names: *a\n", "uses YAML aliases"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("batch_size: [\n", "cannot read"),
    ],
)
def test_bad_values_are_named_with_the_file(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=r"c\.yaml") as caught:
        load_config_file(path)
    assert fragment in str(caught.value)


def test_binary_and_oversized_files_are_refused(tmp_path):
    binary = tmp_path / "b.yaml"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(InvalidInputError, match="not a UTF-8 text file"):
        load_config_file(binary)
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(InvalidInputError, match="no config file"):
        load_config_file(big)


def test_numbers_are_accepted_where_lightning_takes_text_or_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("devices: 2\nprecision: 16-mixed\nlr: 1\nepochs: null\n")
    assert load_config_file(path) == {
        "devices": 2,
        "precision": "16-mixed",
        "lr": 1,
        "epochs": None,
    }


@pytest.mark.parametrize("command", ["train-teacher", "train-student"])
def test_print_config_prints_the_reference_of_every_default(command, tmp_path):
    """What a pip-installed user gets: the shipped file, loadable as it is, the defaults."""
    result = run_cli(command, "--print-config")  # no TILES, -o or --teacher needed
    assert result.exit_code == 0, result.output
    assert result.stdout == reference_config() and not result.stderr
    path = tmp_path / "config.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    content = load_config_file(path)
    assert set(content) == TrainConfig.keys()
    assert TrainConfig.from_mapping(content) == TrainConfig()
