"""`crmdr watch`: probe the primary through its DNS name; declare an outage; optionally fail over."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from recovery.inventory import Inventory
    from recovery.watch import Detection, Verdict


def _printer(json_out: bool, once: bool) -> "Callable[[Verdict], None]":
    """Print state changes (not every healthy probe): one JSON line each with --json."""
    seen: list[Verdict] = []

    def report(verdict: "Verdict") -> None:
        changed = not seen or seen[-1].status != verdict.status or verdict.status == "suspect"
        seen.append(verdict)
        if once or not changed:
            return
        if json_out:
            print(json.dumps(verdict.to_dict(), sort_keys=True), flush=True)
        else:
            say(f"{verdict.to_dict()['at']} {verdict.status}: {verdict.reason}")

    return report


def watch(
    inventory: Path | None = InventoryOption,
    interval: float | None = typer.Option(None, "--interval", help="Seconds between probes (default: the "
                                          "tier's watch_interval, 1s)."),
    failures: int | None = typer.Option(None, "--failures", help="Consecutive failed probes that make an "
                                        "outage (default: the tier's watch_failures, 3)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds one probe may take (default: "
                                         "the interval, at most 1)."),
    once: bool = typer.Option(False, "--once", help="Stop at the first verdict: exit 0 healthy, 1 outage."),
    failover: bool = typer.Option(False, "--failover", help="On an outage, start the failover runbook "
                                  "(the tier must set automatic_failover: true)."),
    accept_data_loss: bool = typer.Option(False, "--accept-data-loss",
                                          help="With --failover: promote even above the tier's lag limit."),
    tier: str | None = typer.Option(None, "--tier", help="SLA tier (default: the inventory's sla_tier)."),
    policy: Path | None = typer.Option(None, "--policy", help="SLA policy file (default: the shipped tiers)."),
    journal_dir: Path | None = typer.Option(None, "--journal-dir", help="Journal directory (default: "
                                            "$CRMDR_JOURNAL_DIR or .crmdr/runs)."),
    json_out: bool = JsonOption,
) -> None:
    """Health watch: TCP connect + SELECT 1 through the DNS name every interval; N failures = outage."""
    from policies.errors import Refused
    from policies.sla import load_policy
    from recovery.adapters.health_probe import PrimaryProbe
    from recovery.inventory import inventory_tier, load_inventory
    from recovery.runbooks.journal import default_journal_dir
    from recovery.runbooks.watch import prepare_failover
    from recovery.runbooks.watch import watch as run_watch
    from recovery.watch import failover_limitation, watch_settings

    loaded = load_inventory(inventory_path(inventory))
    tier_name = tier or loaded.sla_tier
    chosen = load_policy(policy).tier(tier) if tier else inventory_tier(loaded, load_policy(policy))
    settings = watch_settings(chosen, interval=interval, failures=failures, timeout=timeout)
    refusal = failover_limitation(tier_name, chosen) if failover else None
    if refusal:
        raise Refused(refusal)
    if failover:
        prepare_failover(loaded)
    journals = journal_dir or default_journal_dir()
    printer = _printer(json_out, once)

    def report(verdict: "Verdict") -> None:
        printer(verdict)
        if verdict.detection and not failover:  # a service without --failover declares and keeps watching
            _declare(loaded, verdict.detection, journals, json_out)

    ends = ("healthy", "outage") if once else ("outage",) if failover else ()
    verdict = run_watch(PrimaryProbe(loaded, settings.timeout), settings, until=lambda v: v.status in ends,
                        report=report)
    if verdict is None:
        return
    if once and not (failover and verdict.detection):
        _show_once(verdict, json_out)
    if failover and verdict.detection:
        _fail_over(loaded, verdict, verdict.detection, (accept_data_loss, journals, policy, json_out))
    elif verdict.detection:
        raise typer.Exit(1)


def _declare(loaded: "Inventory", found: "Detection", journals: Path, json_out: bool) -> None:
    from recovery.runbooks.watch import declare_outage, outage_journal

    path = declare_outage(loaded, found, outage_journal(loaded, journals))
    if not json_out:
        say(f"outage journal: {path}")


def _show_once(verdict: "Verdict", json_out: bool) -> None:
    if json_out:
        emit_json(verdict.to_dict())
    else:
        say(f"{verdict.status}: {verdict.reason}")


def _fail_over(loaded: "Inventory", verdict: "Verdict", found: "Detection",
               given: tuple[bool, Path, Path | None, bool]) -> None:
    """The failover starts at once; the outage is journalled and announced alongside it."""
    from recovery.runbooks.run import Options
    from recovery.runbooks.watch import fail_over, outage_journal

    accept_data_loss, journals, policy, json_out = given
    report = (lambda line: None) if json_out else (lambda line: say(f"[dim]…[/dim] {line}"))
    result = fail_over(loaded, found, Options(accept_data_loss=accept_data_loss, journal_dir=journals,
                                              policy=policy, report=report), outage_journal(loaded, journals))
    if json_out:
        emit_json({"outage": verdict.to_dict(), "failover": result.to_dict()})
    else:
        say(result.message)
        if result.journal:
            say(f"journal: {result.journal} (run {result.run_id})")
