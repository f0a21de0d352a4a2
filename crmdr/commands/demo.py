"""`crmdr demo`: the embedded default, on the local lab."""

from pathlib import Path

import typer

from crmdr.commands.options import JsonOption, LabDirOption
from crmdr.output import emit_json, say


def demo(
    directory: Path = LabDirOption,
    rows: int = typer.Option(200, "--rows", help="CRM accounts to generate."),
    json_out: bool = JsonOption,
) -> None:
    """Bring the lab up, write through the DNS name, read the row back from the standby."""
    from drills.demo import run_demo
    from drills.lab.settings import LabSettings

    progress = (lambda step: None) if json_out else (lambda step: say(f"[dim]…[/dim] {step}"))
    result = run_demo(directory, LabSettings(rows=rows), progress)
    if json_out:
        emit_json(result)
    else:
        say(
            f"wrote probe row {result['probe_id']} through {result['dns_name']} "
            f"(resolved to {result['written_to']}), read it back on the standby "
            f"{result['read_from']} after {result['replicated_after_ms']:.1f} ms"
        )
