"""The file protocol between the WAL commands and their long-running helper (stdlib only).

PostgreSQL starts archive_command and restore_command once per file; what makes them fast is
that the process it starts imports nothing heavy: it reads and writes small files in a spool
directory and starts the helper (archiver or restore queue) when none holds the spool's lock.
The helper holds an exclusive `flock` on `<spool>/helper.lock` while it runs, so a killed
helper frees it at once and the next command starts another.
"""

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

LOCK = "helper.lock"
STARTED = "helper.started"
LOG = "helper.log"
RESPAWN_AFTER = 5.0  # seconds a started helper gets to take the lock before another is started
POLL = 0.005
STARTS = 3


def write_atomic(path: Path, text: str) -> None:
    """Readers see the whole file or none of it (write aside, then rename)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


def take_lock(spool: Path) -> int | None:
    """The spool's lock as an open descriptor (keep it open while serving), or None if held."""
    fd = os.open(spool / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def helper_running(spool: Path) -> bool:
    fd = take_lock(spool)
    if fd is None:
        return True
    os.close(fd)
    return False


def ensure_helper(spool: Path, module: str, args: list[str]) -> bool:
    """Start `python -m module args` detached unless a helper holds the lock or was just started.

    True when it started one."""
    if helper_running(spool):
        return False
    marker = spool / STARTED
    try:
        if time.time() - marker.stat().st_mtime < RESPAWN_AFTER:
            return False
    except FileNotFoundError:
        pass
    marker.write_text("")
    with (spool / LOG).open("ab") as log:
        process = subprocess.Popen(  # noqa: S603  # this interpreter, a module of ours, our paths
            [sys.executable, "-m", module, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, close_fds=True)
    marker.write_text(f"{process.pid}\n")  # the helper's pid: for an operator (and a test) to find it
    return True


def wait_for(check: Callable[[], str | None], restart: Callable[[], bool], timeout: float) -> str | None:
    """Poll `check` until it answers; every second make sure the helper still runs.

    None: timed out, or the helper had to be started `STARTS` times (it dies at start: its log says why).
    """
    deadline = time.monotonic() + timeout
    next_restart = time.monotonic() + 1.0
    starts = 0
    while time.monotonic() < deadline and starts < STARTS:
        if (answer := check()) is not None:
            return answer
        if time.monotonic() >= next_restart:
            starts += restart()
            next_restart = time.monotonic() + 1.0
        time.sleep(POLL)
    return check()
