"""Durations as people write them in policy files: `30s`, `5m`, `1h`, `35d`, `2w` or seconds."""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: Any) -> timedelta:
    """Accept `90s`/`5m`/`1h`/`35d`/`2w`, a number of seconds, or a timedelta; never negative."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h or 35d")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"expected a duration such as 30s, 5m, 1h or 35d, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 5m, 1h or 35d")
    if seconds < 0:
        raise ValueError("expected a duration of zero or more, got a negative one")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError("expected a duration below 999999999 days") from None


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling, so that a dumped policy reads like the one written."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
