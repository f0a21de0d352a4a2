"""The row every benchmark returns and the README table writer prints (one shape for all)."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure: seconds (median/min/max of the runs), against a baseline when there is one.

    `ratio` = median / baseline median; `goal` says what was aimed at in words ("ratio <= 1.05",
    "< 0.3 s"); `met` is None when there is no goal to judge.
    """

    name: str
    median: float
    min: float
    max: float
    baseline: str = ""
    baseline_median: float | None = None
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None


def row(name: str, times: Sequence[float], baseline: str = "", baseline_times: Sequence[float] = (),
        goal: str = "", limit: float | None = None, on: str = "ratio") -> Row:
    """A Row from raw times; `limit` judges the ratio (on="ratio") or the median (on="median")."""
    median = statistics.median(times)
    base = statistics.median(baseline_times) if baseline_times else None
    ratio = round(median / base, 2) if base else None
    judged = ratio if on == "ratio" else median
    met = None if limit is None or judged is None else judged <= limit
    return Row(name, round(median, 3), round(min(times), 3), round(max(times), 3), baseline,
               None if base is None else round(base, 3), ratio, goal, met)
