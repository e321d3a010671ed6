"""Outputs that appear whole or not at all, and small text files (JSON, CSV).

:func:`atomic_output` writes under a temporary name beside the target and moves
the result into place only on success, so an interrupted or failed run never
leaves half-written outputs and never replaces what it was not allowed to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from geonoise.errors import GeonoiseError, InvalidInputError, OutputExistsError, ReadError

#: Libraries whose exceptions, raised while writing, mean the output could not be written.
WRITER_LIBRARIES = ("rasterio", "pyogrio", "fiona", "pyarrow")


def write_json(path: str | os.PathLike, content: Any) -> None:
    """Write ``content`` as indented UTF-8 JSON with a final newline."""
    import json

    with writing(path):
        Path(path).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_csv(path: str | os.PathLike, rows: list[Mapping[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` (dicts) as CSV with a header of ``columns`` (other keys are dropped)."""
    import csv

    with writing(path), open(path, "w", newline="", encoding="utf-8") as handle:
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
        InvalidInputError: a list file is missing, not UTF-8 text or names no path, or a
            listed path does not exist (for ``option``).
    """
    paths: list[str] = []
    for value in values:
        if not value.startswith("@"):
            paths.append(value)
            continue
        lines = read_list_file(value[1:], option)
        listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not listed:  # a batch job over an empty list must not succeed doing nothing
            raise InvalidInputError(f"list file {value[1:]} names no path", option)
        paths += listed
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InvalidInputError(f"{missing[0]} does not exist{more}", option)
    return paths


def read_list_file(path: str | os.PathLike, option: str) -> list[str]:
    """The lines of an ``@list`` file (UTF-8 text, one path a line).

    Raises:
        InvalidInputError: the file is missing, unreadable or not text (for ``option``).
    """
    listing = Path(path)
    if not listing.is_file():
        raise InvalidInputError(f"list file {listing} does not exist", option)
    try:
        text = listing.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"list file {listing} is not UTF-8 text (byte {exc.start}); "
            "give a text file with one path a line",
            option,
        ) from exc
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read list file {listing}: {first_line(exc)}", option
        ) from exc
    if "\0" in text:
        raise InvalidInputError(
            f"list file {listing} is not text (it holds NUL bytes); "
            "give a text file with one path a line",
            option,
        )
    return text.splitlines()


def check_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse an output that exists (unless ``overwrite``) or cannot be written; before any work.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        InvalidInputError: a file stands where a folder above ``path`` should be (exit 2).
        GeonoiseError: the folder that would hold ``path`` is not writable.
    """
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    folder = _existing_parent(path)
    if not folder.is_dir():
        raise _not_a_folder(path, folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(folder) else "permission denied"
        raise GeonoiseError(f"cannot write {path}: {reason} in {folder}")


def _existing_parent(path: str | os.PathLike) -> Path:
    """The nearest folder (or file) above ``path`` that exists."""
    parent = Path(os.path.abspath(path)).parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    return parent


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


def _not_a_folder(path: str | os.PathLike, blocker: Path) -> InvalidInputError:
    return InvalidInputError(f"cannot write {path}: {blocker} is a file, not a folder")


def output_error(path: str | os.PathLike, exc: BaseException) -> GeonoiseError:
    """The one-line error for an output that could not be written, naming it and the cause.

    A file where a folder above ``path`` should be is a usage error (exit 2);
    no space, no permission or a read-only file system fail at run time (exit 1).
    """
    blocker = _existing_parent(path)
    if not blocker.is_dir():
        return _not_a_folder(path, blocker)
    if isinstance(exc, OSError) and exc.errno:
        return GeonoiseError(f"cannot write {path}: {os.strerror(exc.errno).lower()}")
    return GeonoiseError(f"cannot write {path}: {first_line(exc)}")


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Errors of writing ``path`` (no space, no permission, …) raised as one GeonoiseError.

    Wrap only writes in it: any OSError, and any error of the GIS libraries
    (:data:`WRITER_LIBRARIES`), inside the block is taken to be about ``path``.
    """
    try:
        yield
    except GeonoiseError:
        raise
    except Exception as exc:
        library = type(exc).__module__.split(".")[0]
        if isinstance(exc, OSError) or library in WRITER_LIBRARIES:
            raise output_error(path, exc) from exc
        raise


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
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        with writing(final):
            if os.path.lexists(final):
                check_output(final, overwrite)
                backup = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(final, backup)
                os.replace(temporary, final)
                _remove(backup)
            else:
                os.replace(temporary, final)
    except GeonoiseError as exc:  # name the output the user asked for, not our temporary one
        exc.args = (str(exc.args[0]).replace(str(temporary), str(final)), *exc.args[1:])
        raise
    except OSError as exc:
        if exc.errno in OUT_OF_ROOM or str(temporary) in str(exc.filename):
            raise output_error(final, exc) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            _remove(temporary)


#: errno values that only ever come from writing: a full disk or quota, a read-only file system.
OUT_OF_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


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
