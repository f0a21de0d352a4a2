"""How results reach a person (rich) or a program (`--json`), and errors become exit codes."""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from policies.errors import DrError

log = logging.getLogger("crmdr")


def emit_json(payload: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def say(message: str) -> None:
    """Human output on stdout (rich markup allowed)."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(message)


def fail(error: DrError, *, debug: bool) -> int:
    """Print one clear sentence on stderr (traceback only with --debug); return the exit code."""
    if debug:
        log.exception("%s", error)
    sys.stderr.write(f"crmdr: {error}\n")
    return error.exit_code


@contextmanager
def json_errors(json_out: bool) -> Iterator[None]:
    """With --json, a DrError is also a JSON document on stdout (`error`, `exit_code`); same exit code."""
    try:
        yield
    except DrError as error:
        if not json_out:
            raise
        emit_json({"error": str(error), "exit_code": error.exit_code})
        sys.stderr.write(f"crmdr: {error}\n")
        raise SystemExit(error.exit_code) from None
