"""How results reach a person (rich) or a program (`--json`), and errors become exit codes."""

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from policies.errors import DrError

log = logging.getLogger("crmdr")


def _jsonable(value: Any) -> Any:
    """Times as ISO 8601 UTC with `T` and `Z`, durations as seconds, paths as text, sets sorted."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_emitted: list[bool] = []


def emit_json(payload: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n")
    _emitted.append(True)


def say(message: str) -> None:
    """Human output on stdout (rich markup allowed)."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(message)


TICK_SECONDS = 2.0


@contextmanager
def ticking(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A reporter for a long command: each stage said once with `…`, then again every 2 s while it
    lasts, with its elapsed time, so a wait never looks like a hang. Silent when not `enabled`."""
    if not enabled:
        yield lambda stage: None
        return
    stage, since = [""], [time.monotonic()]
    stop = threading.Event()

    def tell(now: str) -> None:
        stage[0], since[0] = now, time.monotonic()
        say(f"[dim]…[/dim] {now}")

    def loop() -> None:
        while not stop.wait(TICK_SECONDS):
            elapsed = time.monotonic() - since[0]
            if stage[0] and elapsed >= TICK_SECONDS:
                say(f"[dim]…[/dim] {stage[0]} ({elapsed:.0f} s)")

    thread = threading.Thread(target=loop, name="crmdr-ticking", daemon=True)
    thread.start()
    try:
        yield tell
    finally:
        stop.set()
        thread.join(timeout=5)


def fail(error: DrError, *, debug: bool, json_out: bool = False) -> int:
    """One clear sentence on stderr, and with --json also a JSON error on stdout; return the exit code.

    A program reading `--json` output always gets one document: the result (which already says
    what failed, e.g. a stale `backup list`), or this error.
    """
    if debug:
        log.exception("%s", error)
    sys.stderr.write(f"crmdr: {error}\n")
    if json_out:
        emit_json_error(str(error), type(error).__name__, error.exit_code)
    return error.exit_code


def emit_json_error(message: str, kind: str, exit_code: int) -> None:
    """The one JSON error shape of every command, unless the command already printed its document."""
    if not _emitted:
        emit_json({"error": {"message": message, "kind": kind, "exit_code": exit_code}})


@contextmanager
def json_errors(json_out: bool) -> Iterator[None]:
    """With --json, a DrError is the one JSON error document of `fail` (the shape every command
    prints); same exit code."""
    try:
        yield
    except DrError as error:
        if not json_out:
            raise
        raise SystemExit(fail(error, debug=False, json_out=True)) from None
