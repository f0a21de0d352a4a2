"""When drills are due, how a scheduler runs them, and what Prometheus sees. Pure.

A drill counts from its last *passing* run: a failed drill proves nothing, so its cadence
keeps running from the last one that passed. A drill that never passed is overdue.
Cron cannot express every interval: expressions are rounded so a run is never rarer than
the cadence; systemd timers state the exact interval.
"""

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from drills.report.model import DrillReport
from policies.durations import format_duration
from policies.sla import DRILL_TYPES, DrillType, Tier

State = Literal["ok", "due", "overdue"]
DUE_SOON = timedelta(days=1)


@dataclass(frozen=True)
class DueDrill:
    drill_type: DrillType
    cadence: timedelta
    last_passed: datetime | None
    last_run: datetime | None
    due_at: datetime | None
    state: State
    reason: str


def due_drills(tier: Tier, reports: Sequence[DrillReport], now: datetime) -> list[DueDrill]:
    """Each drill type of the tier: ok, due within a day (or a tenth of its cadence), overdue."""
    found: list[DueDrill] = []
    for kind in DRILL_TYPES:
        cadence = tier.drills[kind]
        runs = [r for r in reports if r.drill.type == kind]
        passed = [r.finished_at for r in runs if r.passed]
        last_passed = max(passed, default=None)
        last_run = max((r.finished_at for r in runs), default=None)
        if last_passed is None:
            state: State = "overdue"
            reason = "never passed" if runs else "never run"
            due_at = None
        else:
            due_at = last_passed + cadence
            soon = min(DUE_SOON, cadence / 10)
            state = "overdue" if now > due_at else "due" if now > due_at - soon else "ok"
            late = now - due_at
            reason = (f"overdue by {format_duration(_round(late))}" if state == "overdue"
                      else f"due in {format_duration(_round(-late))}")
        found.append(DueDrill(kind, cadence, last_passed, last_run, due_at, state, reason))
    return found


def _round(value: timedelta) -> timedelta:
    return timedelta(seconds=round(value.total_seconds()))


def cron_expression(cadence: timedelta, minute: int = 17, hour: int = 3) -> str:
    """A crontab schedule never rarer than `cadence` (steps restart each hour/day/month: shorter gaps)."""
    seconds = cadence.total_seconds()
    if seconds < 3600:
        return f"*/{max(1, int(seconds // 60))} * * * *"
    if seconds < 86400:
        return f"{minute} */{int(seconds // 3600)} * * *"
    days = int(seconds // 86400)
    if days < 7:
        return f"{minute} {hour} * * *" if days == 1 else f"{minute} {hour} */{days} * *"
    if days < 31:
        return f"{minute} {hour} * * 1"
    months = min(12, days // 31)
    return f"{minute} {hour} 1 * *" if months == 1 else f"{minute} {hour} 1 */{months} *"


def drill_command(kind: DrillType, tier: str, *, crmdr: str, inventory: str | None, out: str,
                  policy: str | None) -> str:
    args = [crmdr, "drill", "run", "--type", kind, "--tier", tier, "--out", out]
    args += ["--inventory", inventory] if inventory else []
    args += ["--policy", policy] if policy else []
    return shlex.join(args)


def cron_lines(tier: Tier, tier_name: str, *, crmdr: str, inventory: str | None, out: str,
               policy: str | None, user: str | None = None) -> list[str]:
    """/etc/cron.d lines (with user) or crontab lines (without)."""
    lines = []
    for kind in DRILL_TYPES:
        command = drill_command(kind, tier_name, crmdr=crmdr, inventory=inventory, out=out, policy=policy)
        who = f"{user} " if user else ""
        lines.append(f"# {kind}: every {format_duration(tier.drills[kind])}")
        lines.append(f"{cron_expression(tier.drills[kind])} {who}{command}")
    return lines


def systemd_units(tier: Tier, tier_name: str, *, crmdr: str, inventory: str | None, out: str,
                  policy: str | None) -> dict[str, str]:
    """A oneshot service and a timer per drill type; the timer states the cadence exactly."""
    units: dict[str, str] = {}
    for kind in DRILL_TYPES:
        name = f"crmdr-drill-{kind}"
        command = drill_command(kind, tier_name, crmdr=crmdr, inventory=inventory, out=out, policy=policy)
        units[f"{name}.service"] = (f"[Unit]\nDescription=crm-dr {kind} drill (tier {tier_name})\n\n"
                                    f"[Service]\nType=oneshot\nExecStart={command}\n")
        seconds = int(tier.drills[kind].total_seconds())
        units[f"{name}.timer"] = (f"[Unit]\nDescription=Run the crm-dr {kind} drill every "
                                  f"{format_duration(tier.drills[kind])}\n\n[Timer]\nOnBootSec=15min\n"
                                  f"OnUnitActiveSec={seconds}s\nRandomizedDelaySec=300\n\n"
                                  f"[Install]\nWantedBy=timers.target\n")
    return units


def prometheus_text(reports: Sequence[DrillReport], due: Sequence[DueDrill]) -> str:
    """node_exporter textfile of the last result per drill type."""
    metrics = {
        "crmdr_drill_passed": ("gauge", "1 when the last drill of this type passed."),
        "crmdr_drill_rto_seconds": ("gauge", "Client-observed RTO of the last drill (seconds)."),
        "crmdr_drill_rpo_seconds": ("gauge", "Measured RPO of the last drill (seconds)."),
        "crmdr_drill_lost_writes": ("gauge", "Acknowledged writes missing after the last drill."),
        "crmdr_drill_last_run_timestamp_seconds": ("gauge", "When the last drill finished (Unix time)."),
        "crmdr_drill_overdue": ("gauge", "1 when the drill type is overdue per the policy cadence."),
    }
    samples: dict[str, list[str]] = {name: [] for name in metrics}
    last: dict[str, DrillReport] = {}
    for report in reports:
        last[report.drill.type] = report
    for kind, report in sorted(last.items()):
        labels = f'{{type="{kind}",tier="{report.drill.tier}",stack="{report.scope.stack}"}}'
        samples["crmdr_drill_passed"].append(f"crmdr_drill_passed{labels} {int(report.passed)}")
        samples["crmdr_drill_last_run_timestamp_seconds"].append(
            f"crmdr_drill_last_run_timestamp_seconds{labels} {report.finished_at.timestamp():.3f}")
        for key, metric in (("rto_seconds", "crmdr_drill_rto_seconds"), ("rpo_seconds", "crmdr_drill_rpo_seconds"),
                            ("lost_writes", "crmdr_drill_lost_writes")):
            value = report.measured.get(key)
            if isinstance(value, int | float):
                samples[metric].append(f"{metric}{labels} {float(value):g}")
    for item in due:
        samples["crmdr_drill_overdue"].append(
            f'crmdr_drill_overdue{{type="{item.drill_type}"}} {int(item.state == "overdue")}')
    lines: list[str] = []
    for name, (kind, help_text) in metrics.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples[name]]
    return "\n".join(lines) + "\n"
