"""Ways to damage an input file's bytes, and how a command must fail on them: the fuzz tests'.

Each mutation function returns a mutation: the valid file's bytes in, the
mutant's out, the same every time (seeded).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np


def truncated(fraction: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(len(data) * fraction)]


def flipped(seed: int, count: int, within: int) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        rng = np.random.default_rng(seed)
        out = bytearray(data)
        for at in rng.integers(0, min(within, len(out)), count):
            out[at] ^= int(rng.integers(1, 256))
        return bytes(out)

    return mutate


def random_bytes(seed: int, size: int) -> Callable[[bytes], bytes]:
    return lambda _: np.random.default_rng(seed).bytes(size)


def tiff_size(width: int, height: int) -> Callable[[bytes], bytes]:
    """Rewrite ImageWidth and ImageLength of a little-endian classic TIFF's first IFD."""

    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        offset = struct.unpack_from("<I", out, 4)[0]
        for i in range(struct.unpack_from("<H", out, offset)[0]):
            entry = offset + 2 + 12 * i
            tag = struct.unpack_from("<H", out, entry)[0]
            if tag in (256, 257):  # as a LONG, whatever type it had
                value = width if tag == 256 else height
                struct.pack_into("<HHII", out, entry, tag, 4, 1, value)
        return bytes(out)

    return mutate


def not_utf8(data: bytes) -> bytes:
    """Bytes that are no UTF-8 text at all (for list and config files)."""
    return bytes(range(128, 256)) * 2


def assert_one_clean_error(result: Any) -> None:
    """A command (a click ``Result``) that failed as every command must on a bad input.

    Exit 1 or 2, one line that mentions an error, the last, starting ``Error:``,
    not an "unexpected" error, and no traceback.
    """
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert sum("Error" in line for line in lines) == 1, result.stderr
    assert not lines[-1].startswith("Error: unexpected"), lines[-1]
