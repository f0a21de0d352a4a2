"""`crmdr report verify DIR`: signatures and the hash chain of stored drill reports."""

from pathlib import Path

import typer

from crmdr.commands.options import JsonOption
from crmdr.output import emit_json, say

app = typer.Typer(help="Drill reports: verify signatures and the hash chain.", no_args_is_help=True)


@app.command("verify")
def verify(
    directory: Path = typer.Argument(..., help="Report directory (the drill's --out)."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="Trusted Ed25519 key (PEM or base64); default: the chain's usual key."),
    json_out: bool = JsonOption,
) -> None:
    """Exit 1 naming every edited byte, missing report, broken link or foreign signature."""
    from drills.report.signing import read_public_key
    from drills.report.store import CHAIN
    from drills.report.store import verify as verify_chain
    from policies.errors import ConfigError

    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a report directory")
    if not (directory / CHAIN).exists():
        raise ConfigError(f"{directory}: no {CHAIN} (not a crmdr report directory)")
    anchor = read_public_key(public_key) if public_key else None
    count, problems = verify_chain(directory, anchor)
    if json_out:
        emit_json({"directory": str(directory), "reports": count, "valid": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            say(f"[red]✘[/red] {problem}")
    else:
        say(f"{directory}: {count} report(s), signatures and hash chain intact")
    if problems:
        raise typer.Exit(1)
