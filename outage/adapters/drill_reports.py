"""Drill reports as plain JSON (the review and the history read figures, they do not import drills)."""

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from outage.review.build import IncidentFacts, ProbeMeasurement
from outage.review.history import DrillSummary


def drill_reports(directory: Path) -> Iterator[dict[str, Any]]:
    """Every report of a drill report directory's chain, oldest first, that reads as a drill report."""
    chain = directory / "chain.jsonl"
    if not chain.exists():
        return
    for line in chain.read_text().splitlines():
        try:
            rid = json.loads(line)["report_id"]
            data = json.loads((directory / rid / "report.json").read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(data, dict) and "drill" in data and "measured" in data:
            yield data


def summaries(directory: Path) -> list[DrillSummary]:
    found = []
    for data in drill_reports(directory):
        measured = data.get("measured", {})
        rto = measured.get("rto_seconds", measured.get("restore_seconds"))
        detect = measured.get("detection_seconds")
        found.append(DrillSummary(finished_at=datetime.fromisoformat(data["finished_at"]),
                                  drill_type=str(data["drill"]["type"]), passed=bool(data["passed"]),
                                  detect_seconds=float(detect) if isinstance(detect, int | float) else None,
                                  rto_seconds=float(rto) if isinstance(rto, int | float) else None,
                                  actions=len(data.get("corrective_actions", []))))
    return found


class DrillProbe:
    """ProbeSource: the write probe of the failover drill whose run covers the incident's start."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def measurement(self, incident: IncidentFacts) -> ProbeMeasurement | None:
        for data in drill_reports(self._directory):
            started, finished = (datetime.fromisoformat(data[k]) for k in ("started_at", "finished_at"))
            measured = data.get("measured", {})
            if data["drill"]["type"] == "failover" and started <= incident.started_at <= finished:
                rto, rpo = measured.get("rto_seconds"), measured.get("rpo_seconds")
                return ProbeMeasurement(rto_seconds=float(rto) if isinstance(rto, int | float) else None,
                                        rpo_seconds=float(rpo) if isinstance(rpo, int | float) else None,
                                        lost_writes=int(measured.get("lost_writes", 0)),
                                        source=f"drill report {data['report_id']}")
        return None
