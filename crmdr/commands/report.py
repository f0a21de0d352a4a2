"""`crmdr report verify DIR` and `crmdr report rotate-key DIR`: the evidence chain of drill reports."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from drills.report.service import AnchorCheck

app = typer.Typer(help="Drill reports: verify signatures, the hash chain and its anchor; rotate the signing key.",
                  no_args_is_help=True)


def _report_dir(directory: Path) -> None:
    from drills.report.store import CHAIN
    from policies.errors import ConfigError

    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a report directory")
    if not (directory / CHAIN).exists():
        raise ConfigError(f"{directory}: no {CHAIN} (not a crmdr report directory)")


@app.command("verify")
def verify(
    directory: Path = typer.Argument(..., help="Report directory (the drill's --out)."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="Trusted Ed25519 key (PEM or base64) now signing; default: the chain's own."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Exit 1 naming every edited byte, missing report, broken link, foreign key or truncation.

    The chain is compared with its anchor in the Object-Locked DR bucket (the inventory's) when
    that answers; when it cannot be, the output says "anchor not checked" and why.
    """
    from drills.report.chain import verify as verify_chain
    from drills.report.rotation import rotations
    from drills.report.service import check_anchor
    from drills.report.signing import read_public_key

    _report_dir(directory)
    trusted = read_public_key(public_key) if public_key else None
    count, problems = verify_chain(directory, trusted)
    anchor = check_anchor(directory, inventory_path(inventory))
    problems += anchor.problems
    handovers = rotations(directory)
    if json_out:
        emit_json({"directory": str(directory), "links": count, "reports": count - len(handovers),
                   "key_rotations": handovers, "valid": not problems, "problems": problems,
                   "anchor": {"checked": anchor.checked, "where": anchor.where, "anchored": anchor.anchored,
                              "unanchored": anchor.unanchored}})
    else:
        for problem in problems:
            say(f"[red]✘[/red] {problem}")
        for handover in handovers:
            say(f"key rotation {handover['rotation_id']} at {handover['at']}: {handover['old_fingerprint']} "
                f"handed over to {handover['new_fingerprint']}")
        say(_verdict(directory, count - len(handovers), not problems, anchor))
    if problems:
        raise typer.Exit(1)


def _verdict(directory: Path, reports: int, valid: bool, anchor: "AnchorCheck") -> str:
    if not anchor.checked:
        state = "signatures and hash chain consistent" if valid else "FAILED"
        return f"{directory}: {reports} report(s), {state}; anchor not checked: {anchor.where}"
    if not valid:
        return f"{directory}: {reports} report(s), FAILED (anchor: {anchor.where})"
    if not anchor.anchored:
        return (f"{directory}: {reports} report(s), signatures and hash chain consistent; anchor not found: no "
                f"link of this chain is anchored in {anchor.where} (drills ran with --no-bucket, or another bucket)")
    newer = f"; the newest {anchor.unanchored} link(s) are not anchored yet" if anchor.unanchored else ""
    return (f"{directory}: {reports} report(s), signatures, hash chain and anchor intact "
            f"({anchor.anchored} link(s) anchored in {anchor.where}{newer})")


@app.command("rotate-key")
def rotate_key(
    directory: Path = typer.Argument(..., help="Report directory (the drill's --out)."),
    old_key: Path = typer.Option(..., "--old-key", help="The key that signs the chain now (Ed25519 PEM)."),
    new_key: Path = typer.Option(..., "--new-key", help="The key that signs from now on (created 0600 if absent)."),
    json_out: bool = JsonOption,
) -> None:
    """Hand the chain over to a new signing key: a link signed by the old key and accepted by the new."""
    import secrets
    from datetime import UTC, datetime

    from drills.report.rotation import rotate
    from drills.report.signing import fingerprint, load_or_create_key, public_key_text
    from policies.errors import Refused

    _report_dir(directory)
    old = load_or_create_key(old_key, create=False)
    new = load_or_create_key(new_key, create=True)
    try:
        folder = rotate(directory, old, new, datetime.now(UTC), secrets.token_hex(3))
    except ValueError as err:
        raise Refused(f"{directory}: {err}; nothing changed") from None
    old_print, new_print = fingerprint(public_key_text(old)), fingerprint(public_key_text(new))
    if json_out:
        emit_json({"rotation_id": folder.name, "old_fingerprint": old_print, "new_fingerprint": new_print})
    else:
        say(f"{folder.name}: {old_print} handed over to {new_print}; sign the next drills with --signing-key "
            f"{new_key}")
