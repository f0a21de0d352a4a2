"""The demo, the embedded default: the lab up, then a failover drill on it, judged and reported."""

from pathlib import Path

from drills.lab.lab import Progress, up
from drills.lab.settings import LabSettings
from drills.report.model import DrillReport
from drills.runner import DrillRequest, run_drill


def run_demo(directory: Path, settings: LabSettings, progress: Progress, out: Path) -> tuple[DrillReport, Path]:
    """Returns the signed report and the path of its HTML page."""
    up(directory, settings, progress)
    progress("failover drill: write probe, crash the primary, fail over, measure, fail back")
    request = DrillRequest(drill_type="failover", inventory_path=directory / "inventory.json",
                           out_dir=out)
    report, report_dir = run_drill(request)
    return report, report_dir / "report.html"
