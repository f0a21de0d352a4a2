"""`crmdr watch`: probe the primary through its DNS name; declare an outage; optionally fail over."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.notices import after_failover, automatic_notices, cadence_reminder
from crmdr.commands.options import InventoryOption, JsonOption, PolicyOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from outage.status.service import AutomaticNotices
    from recovery.inventory import Inventory
    from recovery.watch.decide import Detection, Verdict


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
    once: bool = typer.Option(False, "--once", help="Stop at the first verdict: exit 0 when the database "
                              "answers (healthy, control plane unreachable), 1 otherwise (outage, dns unreachable)."),
    failover: bool = typer.Option(False, "--failover", help="On an outage, start the failover runbook "
                                  "(the tier must set automatic_failover: true)."),
    accept_data_loss: bool = typer.Option(False, "--accept-data-loss",
                                          help="With --failover: promote even above the tier's lag limit."),
    tier: str | None = typer.Option(None, "--tier", help="SLA tier (default: the inventory's sla_tier)."),
    policy: Path | None = PolicyOption,
    journal_dir: Path | None = typer.Option(None, "--journal-dir", help="Journal directory (default: "
                                            "$CRMDR_JOURNAL_DIR or .crmdr/runs)."),
    json_out: bool = JsonOption,
) -> None:
    """Health watch: TCP connect + SELECT 1 through the DNS name every interval; N failures = outage."""
    from policies.errors import Refused
    from policies.sla import load_policy
    from recovery.adapters.health_probe import PrimaryProbe
    from recovery.inventory import load_inventory
    from recovery.runbooks.journal.files import default_journal_dir
    from recovery.watch.decide import ANSWERING, failover_limitation, watch_settings
    from recovery.watch.loop import prepare_failover, watch_until

    loaded = load_inventory(inventory_path(inventory))
    tier_name = tier or loaded.sla_tier
    chosen = load_policy(policy).tier(tier_name)
    settings = watch_settings(chosen, interval=interval, failures=failures, timeout=timeout)
    refusal = failover_limitation(tier_name, chosen) if failover else None
    if refusal:
        raise Refused(refusal)
    if failover:
        prepare_failover(loaded)
    journals = journal_dir or default_journal_dir()
    printer = _printer(json_out, once)
    customers = automatic_notices(loaded, tier_name, chosen)  # told at once on a declared outage
    reminder = None if once or failover else cadence_reminder(loaded, customers)

    def report(verdict: "Verdict") -> None:
        printer(verdict)
        if verdict.detection:
            customers.outage_declared(verdict.detection.first_failure, verdict.detection.declared)
        if verdict.detection and not failover:  # a service without --failover declares and keeps watching
            _declare(loaded, verdict.detection, journals, json_out)
        if reminder is not None:
            reminder.tick()

    def until(verdict: "Verdict") -> bool:
        return verdict.status != "suspect" if once else failover and verdict.status == "outage"

    verdict = watch_until(PrimaryProbe(loaded, settings.timeout), settings, until=until, report=report)
    if verdict is None:
        return
    if once and not (failover and verdict.detection):
        _show_once(verdict, json_out)
    if failover and verdict.detection:
        _fail_over(loaded, verdict, verdict.detection, (accept_data_loss, journals, policy, json_out), customers)
    elif verdict.detection or verdict.status not in ANSWERING:
        if verdict.detection:
            customers.wait()
        raise typer.Exit(1)


def _declare(loaded: "Inventory", found: "Detection", journals: Path, json_out: bool) -> None:
    from recovery.watch.loop import declare_outage, outage_journal

    path = declare_outage(loaded, found, outage_journal(loaded, journals))
    if not json_out:
        say(f"outage journal: {path}")


def _show_once(verdict: "Verdict", json_out: bool) -> None:
    if json_out:
        emit_json(verdict.to_dict())
    else:
        say(f"{verdict.status}: {verdict.reason}")


def _fail_over(loaded: "Inventory", verdict: "Verdict", found: "Detection",
               given: tuple[bool, Path, Path | None, bool], customers: "AutomaticNotices") -> None:
    """The failover starts at once; the outage is journalled and announced alongside it."""
    from recovery.runbooks.run import Options
    from recovery.watch.loop import fail_over, outage_journal

    accept_data_loss, journals, policy, json_out = given
    report = (lambda line: None) if json_out else (lambda line: say(f"[dim]…[/dim] {line}"))
    result = fail_over(loaded, found, Options(accept_data_loss=accept_data_loss, journal_dir=journals,
                                              policy=policy, report=report), outage_journal(loaded, journals))
    after_failover(customers, result)  # validation passed: "monitoring"; resolving stays a person's decision
    customers.wait()
    told = customers.record()
    if json_out:
        emit_json({"outage": verdict.to_dict(), "failover": result.to_dict(), "customers": told})
    else:
        say(result.message)
        say(f"customers: {', '.join(u['state'] for u in told.get('updates', [])) or told.get('reason', 'nothing')}"
            f" on {loaded.status.url if loaded.status else 'no status page'}")
        if result.journal:
            say(f"journal: {result.journal} (run {result.run_id})")
