"""VectorizeOptions: values out of range name their command-line option."""

from __future__ import annotations

import pytest

from geonoise.errors import InvalidInputError
from geonoise.vectorize.options import VectorizeOptions


def test_options_are_validated():
    with pytest.raises(InvalidInputError, match="--threshold"):
        VectorizeOptions(threshold=1.5)
    with pytest.raises(InvalidInputError, match="--min-area"):
        VectorizeOptions(min_area=-1)
