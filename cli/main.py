"""The ``geonoise`` command group: logging, version, error handling, subcommands."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Iterator

import click

from geonoise import __version__
from geonoise.errors import GeonoiseError, Interrupted

from . import detect, evaluate, export, fix, synth, tile, train, vectorize
from .options import verbosity, verbosity_options

logger = logging.getLogger("geonoise")


class CommandError(click.ClickException):
    """A one-line ``Error: …`` message with the exit code the failure calls for."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the library said
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        _close_progress_bars()
        super().show(file)


def _close_progress_bars() -> None:
    """Close the progress bars an error left open, so that ``Error:`` starts its own line.

    Lightning leaves its bars open when training stops on an error; tqdm would
    close them at exit, after the message, and the message would follow the bar.
    """
    tqdm_module = sys.modules.get("tqdm")
    bars = list(getattr(tqdm_module.tqdm, "_instances", ())) if tqdm_module else []
    for bar in bars:
        bar.leave = False  # cleared, not redrawn: the message says where it stopped
        bar.close()
    if bars and not sys.stderr.isatty():
        sys.stderr.write("\n")  # a log file keeps the bar's last state on its own line


class GeonoiseGroup(click.Group):
    """Turns library errors into one-line messages; tracebacks only with ``-v``.

    Every subcommand also takes ``-v``/``-q`` after its name, as GDAL's and
    rasterio's tools do.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(verbosity_options())
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context):
        raised: list[Interrupted] = []
        try:
            with _interruptible(raised):
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (Interrupted, Exception) as exc:
            if verbosity(ctx) > 0:
                click.echo(traceback.format_exc(), err=True)
            # The traceback keeps the stopped frames, and with them suspended generators whose
            # cleanup stops helper threads (detect's model runs in one): release them now, so
            # that no thread is still inside the model when the interpreter exits (SIGABRT).
            traceback.clear_frames(exc.__traceback__)
            # A signal wins over what it became: C code that catches it mid-import, for one,
            # raises an ImportError of its own ("PyCapsule_Import could not import module").
            stopped = raised[0] if raised else exc
            raise _command_error(stopped, verbosity(ctx) > 0) from exc


def _command_error(exc: BaseException, verbose: bool) -> CommandError:
    """The one-line error of a command that stopped on ``exc``, with its exit code."""
    if isinstance(exc, Interrupted):
        return CommandError(f"{exc}; {exc.note or 'nothing was written'}", exc.exit_code)
    if isinstance(exc, GeonoiseError):
        return CommandError(str(exc), exc.exit_code)
    hint = "" if verbose else " (rerun with -v for the traceback)"
    return CommandError(f"unexpected {type(exc).__name__}: {exc}{hint}")


@contextlib.contextmanager
def _interruptible(raised: list[Interrupted]) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while a command runs.

    Batch schedulers stop jobs with SIGTERM, whose default action kills the
    process where it stands: temporary outputs and worker processes would stay
    behind. Raised as an exception instead, it unwinds through the same
    cleanup as an error. A second signal during that cleanup is ignored. The
    exception raised is also appended to ``raised``, so that the caller knows
    a signal arrived even where something turned it into another error.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def interrupt(signum: int, frame: object) -> None:
        for each in signals:
            signal.signal(each, signal.SIG_IGN)
        raised.append(Interrupted(signum))
        raise raised[-1]

    for signum in signals:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _configure_logging(balance: int) -> None:
    """geonoise's log level for a -v/-q ``balance``: -1 errors only, 0 warnings, 1 info, 2 debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(balance, 2)), logging.DEBUG
    )
    handler = logging.StreamHandler()  # stderr: stdout is for what scripts read
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


@click.group(cls=GeonoiseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="geonoise")
@click.option("-v", "--verbose", count=True, help="More log output; -v also shows tracebacks.")
@click.option("-q", "--quiet", count=True, help="Less output: no progress bars or summaries.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Find label noise in remote-sensing segmentation data.

    Every step is one command that reads and writes ordinary GIS files
    (GeoTIFF, GeoPackage): tile scenes and labels, train a teacher on clean
    labels and a student on noisy ones, detect noise as a GeoTIFF, and turn it
    into polygons for QGIS.

    \b
    Example:
      geonoise synth -o sample/ --seed 1
      geonoise tile sample/scene.tif --labels sample/labels_noisy.tif -o tiles/
    """
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbose - quiet
    ctx.obj["on_verbosity"] = _configure_logging
    _configure_logging(verbose - quiet)


cli.add_command(synth.synth)
cli.add_command(tile.tile)
cli.add_command(detect.detect)
cli.add_command(export.export)
cli.add_command(vectorize.vectorize)
cli.add_command(train.train_teacher)
cli.add_command(train.train_student)
cli.add_command(evaluate.evaluate)
cli.add_command(fix.fix)
