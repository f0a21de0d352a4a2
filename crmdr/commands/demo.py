"""`crmdr demo`: the embedded default, on the local lab."""

from pathlib import Path

import typer

from crmdr.commands.options import DEFAULT_REPORT_DIR, JsonOption, LabDirOption
from crmdr.output import emit_json, say


def demo(
    directory: Path = LabDirOption,
    rows: int = typer.Option(200, "--rows", help="CRM accounts to generate."),
    out: Path = typer.Option(DEFAULT_REPORT_DIR, "--out", help="Report directory (signed, hash-chained)."),
    json_out: bool = JsonOption,
) -> None:
    """Bring the lab up (synchronous, as the gold tier requires), run a failover drill, print the report's path."""
    from drills.demo import run_demo
    from drills.lab.settings import LabSettings

    progress = (lambda step: None) if json_out else (lambda step: say(f"[dim]…[/dim] {step}"))
    report, html = run_demo(directory, LabSettings(rows=rows, synchronous=True), progress, out)
    if json_out:
        emit_json({"passed": report.passed, "report": str(html), "measured": report.measured,
                   "objectives": [o.model_dump(mode="json") for o in report.objectives]})
    else:
        for objective in report.objectives:
            mark = "[green]pass[/green]" if objective.passed else "[red]FAIL[/red]"
            say(f"  {mark}  {objective.detail}")  # the detail starts with the objective's name
        say(f"failover drill {'PASSED' if report.passed else 'FAILED'}; report: {html}")
    if not report.passed:
        raise typer.Exit(1)
