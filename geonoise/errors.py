"""The exceptions geonoise raises.

Every error the library raises on purpose derives from :class:`GeonoiseError`.
The CLI turns them into one-line messages: ``exit_code`` says which exit status
(1 for failures at run time, 2 for bad option values or inputs, as
DESIGN.md's command-line conventions ask).
"""

from __future__ import annotations


class GeonoiseError(Exception):
    """Base class of geonoise's errors; the message says what to do next."""

    exit_code: int = 1


class InvalidInputError(GeonoiseError):
    """An option value or input that cannot work (a usage error, exit 2).

    Args:
        message: What is wrong and how to fix it.
        option: The option or argument it concerns, e.g. ``"--class-field"``.
    """

    exit_code = 2

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option

    def __reduce__(self):  # keep the option when crossing a process boundary
        return (type(self), (self.args[0], self.option))

    def __str__(self) -> str:
        message = super().__str__()
        return f"Invalid value for {self.option}: {message}" if self.option else message


class ReadError(GeonoiseError):
    """A file that cannot be opened or read (missing, truncated, not a raster)."""


class GeoreferenceError(GeonoiseError):
    """A dataset without a usable CRS or transform, or grids that cannot be reconciled."""


class NoOverlapError(GeonoiseError):
    """Labels that do not overlap the scene they are meant to label."""


class OutputExistsError(GeonoiseError):
    """An output that exists already while ``--overwrite`` was not given."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds like KeyboardInterrupt, so every cleanup runs.

    A BaseException (as KeyboardInterrupt), so ``except Exception`` does not
    swallow it; not a KeyboardInterrupt, so libraries that handle Ctrl-C their
    own way (Lightning exits the process) let it pass to the CLI, which exits
    with 128 + the signal's number, as shells do.
    """

    #: What the interrupted command kept, in words, where it kept anything (training).
    note: str | None = None

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        import signal

        return f"interrupted by {signal.Signals(self.signum).name}"
