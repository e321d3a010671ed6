"""What every benchmark report says about the machine it ran on, and how a command ran on it."""

from __future__ import annotations

import contextlib
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@dataclass
class Timed:
    """How a command ran: wall seconds, and what GNU time says where it was used."""

    seconds: float
    cpu: float | None  # user + system CPU seconds; None without GNU time
    maxrss_kib: int | None  # largest peak RSS of any process of the command; None without it


def run_measured(
    command: list[str],
    log: Path,
    sample: Callable[[psutil.Process], None],
    *,
    interval: float = 0.2,
    time_v: str | None = "/usr/bin/time",
    env: dict[str, str] | None = None,
) -> Timed:
    """Run ``command`` (output to ``log``) under ``time_v -v``, calling ``sample`` while it runs.

    ``sample(root)`` gets the process that was started (GNU time, or the command
    itself without ``time_v``) every ``interval`` seconds, to poll the tree's
    memory its own way; a process that ends meanwhile is skipped. A command that
    fails ends the benchmark with the tail of its log.

    The peak RSS comes from ``time -v`` (the kernel's ``ru_maxrss`` of the command),
    not from this process's own ``wait4``: a child forked from this Python inherits
    its high-water mark across exec, which would put a floor of this process's size
    under every number.
    """
    import psutil

    rss_file = log.with_suffix(".time")
    rss_file.unlink(missing_ok=True)
    full = [time_v, "-v", "-o", str(rss_file), *command] if time_v else command
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env)
        done = threading.Event()

        def poll() -> None:
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                with contextlib.suppress(psutil.Error):
                    sample(root)
                done.wait(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        returncode = proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
    if returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        sys.exit(f"command failed (exit {returncode}): {shlex.join(command)}\n{tail}")
    if not time_v:
        return Timed(seconds, None, None)
    text = rss_file.read_text()
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if found is None or user is None or system is None:
        sys.exit(f"no peak RSS or CPU time in {time_v}'s output {rss_file}")
    return Timed(seconds, float(user.group(1)) + float(system.group(1)), int(found.group(1)))
