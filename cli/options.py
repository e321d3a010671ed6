"""Options that several commands share, defined once (the ``rio`` way)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import click


def _parse_creation_options(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """``--co`` values as a dict, refused (exit 2) unless GDAL's GTiff driver accepts them."""
    options: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --co COMPRESS=ZSTD)")
        options[key.strip().upper()] = value.strip()
    if not options:
        return options
    from geonoise.errors import InvalidInputError
    from geonoise.io.rasters import check_creation_options

    try:
        return check_creation_options(options)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc.args[0])) from exc


output_opt = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=True, file_okay=True, writable=True),
    help="Output path.",
)

overwrite_opt = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace an output that exists already."
)

creation_options_opt = click.option(
    "--co",
    "-co",
    "creation_options",
    metavar="NAME=VALUE",
    multiple=True,
    callback=_parse_creation_options,
    help=(
        "GDAL creation option for the GeoTIFFs written (repeatable; -co as in GDAL's tools "
        "works too), e.g. --co COMPRESS=ZSTD. Options GDAL's GTiff driver does not know "
        "are refused."
    ),
)

seed_opt = click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed; same seed, same output."
)

json_opt = click.option(
    "--json", "as_json", is_flag=True, default=False, help="Print the summary as JSON on stdout."
)

window_size_opt = click.option(
    "--window-size",
    type=click.IntRange(64, 65536),
    default=2048,
    show_default=True,
    metavar="PIXELS",
    help="Edge of the blocks read at a time (memory use grows with its square).",
)

device_opt = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the model runs.",
)


def threshold_opt(help: str):
    """``--threshold``: a noise score in [0, 1]; default the suspect threshold that
    vectorize, fix, evaluate and detect's tile fractions share."""
    from geonoise.contracts import SUSPECT_THRESHOLD

    return click.option(
        "--threshold",
        type=FiniteFloatRange(0, 1),
        default=SUSPECT_THRESHOLD,
        show_default=True,
        help=help,
    )


def jobs_opt(what: str):
    """``--jobs N``: worker processes for ``what``; default (None) means every CPU available."""
    return click.option(
        "--jobs",
        type=click.IntRange(1),
        default=None,
        metavar="N",
        help=f"Processes {what} [default: the CPUs available].",
    )


def jobs_or_cpus(jobs: int | None) -> int:
    """The ``--jobs`` value, or the CPUs this process may use when it was not given."""
    from geonoise.parallel import available_cpus

    return jobs or available_cpus()


@contextlib.contextmanager
def progress_bar(ctx: click.Context, desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr (off with -q), fed as ``progress(done, total)``."""
    from tqdm import tqdm

    with tqdm(unit=unit, desc=desc, disable=verbosity(ctx) < 0, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:  # known from the start: show 0/total, not a bare count
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)

        yield progress


def _style_note(path: Path) -> str:
    """Where QGIS finds the style of ``path``: a ``.qml`` beside it or the GeoPackage itself."""
    from geonoise.io.styles import embeds_style, has_styles, style_path

    if embeds_style(path) and path.is_file() and has_styles(path):
        return "style inside"
    qml = style_path(path)
    return f"style {qml.name}" if path.is_file() and qml.exists() else ""


def echo_outputs(ctx: click.Context, outputs: Sequence[tuple[str | Path | None, str]]) -> None:
    """List what a command wrote on stderr (not with -q): each path, what it is, its style.

    ``outputs`` are ``(path, description)`` pairs; pairs whose path is None or
    was not written are left out.
    """
    if verbosity(ctx) < 0:
        return
    written = [(Path(p), what) for p, what in outputs if p is not None and Path(p).exists()]
    if not written:
        return
    width = max(len(str(path)) for path, _ in written)
    click.echo("wrote:", err=True)
    for path, what in written:
        note = _style_note(path)
        click.echo(f"  {path!s:<{width}}  {what}{f' ({note})' if note else ''}", err=True)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that also refuses NaN, which every range comparison lets through."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def verbosity(ctx: click.Context) -> int:
    """The -v/-q balance, given before or after the command name: > 0 more detail, < 0 quieter."""
    root = ctx.find_root()
    return (root.obj or {}).get("verbosity", 0)


def _more_or_less(step: int) -> Callable[[click.Context, click.Parameter, int], None]:
    def callback(ctx: click.Context, param: click.Parameter, count: int) -> None:
        if count:
            root = ctx.find_root()
            root.ensure_object(dict)
            root.obj["verbosity"] = root.obj.get("verbosity", 0) + step * count
            apply = root.obj.get("on_verbosity")
            if apply is not None:
                apply(root.obj["verbosity"])

    return callback


def verbosity_options() -> list[click.Option]:
    """``-v``/``-q`` for a subcommand, so that ``geonoise tile -q …`` works as ``geonoise -q tile``.

    They add to the count given before the command name; the group's callback
    (``on_verbosity`` in the root context) applies the new balance to logging.
    """
    common = {"count": True, "expose_value": False}
    return [
        click.Option(
            ["-v", "--verbose"],
            callback=_more_or_less(1),
            help="More log output; -v also shows tracebacks.",
            **common,
        ),
        click.Option(
            ["-q", "--quiet"],
            callback=_more_or_less(-1),
            help="Less output: no progress bars or summaries.",
            **common,
        ),
    ]
