"""Evaluation options: values out of range name the option that sets them."""

from __future__ import annotations

import pytest

from geonoise.errors import InvalidInputError
from geonoise.evaluation.options import EvaluateOptions


def test_bad_options_name_the_option():
    for kwargs, option in (
        ({"threshold": 1.5}, "--threshold"),
        ({"min_cover": 0}, "--min-cover"),
        ({"bins": 1}, "--bins"),
    ):
        with pytest.raises(InvalidInputError, match=option):
            EvaluateOptions(**kwargs)


def test_the_tile_statistic_literal_names_the_statistics_of_detection():
    from typing import get_args

    from geonoise.detection.scores import TILE_STATISTICS
    from geonoise.evaluation.options import TileStatistic

    assert get_args(TileStatistic) == TILE_STATISTICS
