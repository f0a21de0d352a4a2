"""How results reach a person (rich) or a program (`--json`), and errors become exit codes."""

import json
import logging
import sys
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


def fail(error: DrError, *, debug: bool, json_out: bool = False) -> int:
    """One clear sentence on stderr, and with --json also a JSON error on stdout; return the exit code.

    A program reading `--json` output always gets one document: the result (which already says
    what failed, e.g. a stale `backup list`), or this error.
    """
    if debug:
        log.exception("%s", error)
    sys.stderr.write(f"crmdr: {error}\n")
    if json_out and not _emitted:
        emit_json({"error": {"message": str(error), "kind": type(error).__name__, "exit_code": error.exit_code}})
    return error.exit_code
