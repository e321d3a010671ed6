"""Outputs that appear whole or not at all, and small text files (JSON, CSV).

:func:`atomic_output` writes under a temporary name beside the target and moves
the result into place only on success, so an interrupted or failed run never
leaves half-written outputs and never replaces what it was not allowed to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from geonoise.errors import InvalidInputError, OutputExistsError, ReadError


def write_json(path: str | os.PathLike, content: Any) -> None:
    """Write ``content`` as indented UTF-8 JSON with a final newline."""
    import json

    Path(path).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_csv(path: str | os.PathLike, rows: list[Mapping[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` (dicts) as CSV with a header of ``columns`` (other keys are dropped)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings; unreadable files raise ReadError."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReadError(f"cannot read {path} as CSV: {first_line(exc)}") from exc


def expand_lists(values: Sequence[str], option: str) -> list[str]:
    """Paths, where ``@list.txt`` stands for the paths in that file, one a line.

    Blank lines and lines starting with ``#`` are skipped. Every path must exist.

    Raises:
        InvalidInputError: a list file or a listed path does not exist (for ``option``).
    """
    paths: list[str] = []
    for value in values:
        if not value.startswith("@"):
            paths.append(value)
            continue
        listing = Path(value[1:])
        if not listing.is_file():
            raise InvalidInputError(f"list file {listing} does not exist", option)
        lines = listing.read_text(encoding="utf-8").splitlines()
        paths += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InvalidInputError(f"{missing[0]} does not exist{more}", option)
    return paths


def check_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite``; call it before doing any work."""
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    The caller writes a file or a directory at the yielded path. When the block
    ends without error, an existing ``path`` is replaced (only with
    ``overwrite``) and the result renamed onto it; on any error the temporary
    output is removed and ``path`` is left as it was.
    """
    final = Path(path)
    check_output(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        if os.path.lexists(final):
            check_output(final, overwrite)
            backup = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, backup)
            os.replace(temporary, final)
            _remove(backup)
        else:
            os.replace(temporary, final)
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def first_line(exc: BaseException) -> str:
    """The most specific one-line reason: GDAL's own error where rasterio chained it."""
    while exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unique_stems(scenes: Sequence[str]) -> list[str]:
    """File stems, numbered where two scenes share one (``a/x.tif``, ``b/x.tif``)."""
    stems = [Path(s).stem for s in scenes]
    seen: Counter[str] = Counter()
    names = []
    for stem in stems:
        seen[stem] += 1
        names.append(stem if stems.count(stem) == 1 else f"{stem}-{seen[stem]}")
    return names
