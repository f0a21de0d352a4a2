"""When drills are due, how a scheduler runs them, and what Prometheus sees. Pure.

A drill counts from its last *passing* run: a failed drill proves nothing, so its cadence
keeps running from the last one that passed. A drill that never passed is overdue.
Cron and systemd calendars cannot repeat every interval evenly (30 days is neither monthly
nor weekly): such a cadence becomes a daily check that starts the drill once it is due
(policies/schedules.py), so a scheduled drill never runs more often than its cadence.
"""

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from drills.report.model import DrillReport
from policies.durations import format_duration
from policies.schedules import drill_calendar
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
            reason = (f"overdue by {_span(late)} (was due {due_at:%Y-%m-%d})" if state == "overdue"
                      else f"due in {_span(-late)} ({due_at:%Y-%m-%d})")
        found.append(DueDrill(kind, cadence, last_passed, last_run, due_at, state, reason))
    return found


def _span(value: timedelta) -> str:
    """In the unit people plan drills in: days, else hours, else minutes."""
    seconds = value.total_seconds()
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def not_due_yet(tier: Tier, reports: Sequence[DrillReport], kind: DrillType, now: datetime) -> str | None:
    """Why a scheduled check must not start this drill now; None when it is due.

    Counted from the start of the last passing drill, truncated to its minute (the scheduler's
    granularity), so a check at the same time one cadence later starts it and no earlier one does.
    """
    cadence = tier.drills[kind]
    starts = [r.started_at for r in reports if r.drill.type == kind and r.passed]
    if not starts:
        return None
    last = max(starts)
    due_at = last.replace(second=0, microsecond=0) + cadence
    if now >= due_at:
        return None
    return (f"{kind} drill not due: every {format_duration(cadence)}, the last passing one started "
            f"{last:%Y-%m-%d %H:%M} UTC, due {due_at:%Y-%m-%d %H:%M} UTC (in {_span(due_at - now)})")


def drill_command(kind: DrillType, tier: str, *, crmdr: Sequence[str], inventory: str | None, out: str,
                  policy: str | None, if_due: bool) -> list[str]:
    """The words of the scheduled `crmdr drill run`: every path absolute, nothing left to a shell."""
    args = [*crmdr, "drill", "run", "--type", kind, "--tier", tier, "--out", out]
    args += ["--inventory", inventory] if inventory else []
    args += ["--policy", policy] if policy else []
    return [*args, "--if-due"] if if_due else args


def cron_lines(tier: Tier, tier_name: str, *, crmdr: Sequence[str], inventory: str | None, out: str,
               policy: str | None, user: str) -> list[str]:
    """/etc/cron.d lines: schedule, user, then a command /bin/sh runs as written (`%` escaped for cron)."""
    lines = []
    for kind in DRILL_TYPES:
        calendar = drill_calendar(tier.drills[kind])
        words = drill_command(kind, tier_name, crmdr=crmdr, inventory=inventory, out=out, policy=policy,
                              if_due=not calendar.exact)
        lines.append(f"# {kind}: {calendar.note}")
        lines.append(f"{calendar.cron} {user} {shlex.join(words).replace('%', chr(92) + '%')}")
    return lines


def systemd_units(tier: Tier, tier_name: str, *, crmdr: Sequence[str], inventory: str | None, out: str,
                  policy: str | None, user: str | None) -> dict[str, str]:
    """A oneshot service and a calendar timer per drill type; `Persistent=` catches up missed runs."""
    units: dict[str, str] = {}
    for kind in DRILL_TYPES:
        name = f"crmdr-drill-{kind}"
        calendar = drill_calendar(tier.drills[kind])
        words = drill_command(kind, tier_name, crmdr=crmdr, inventory=inventory, out=out, policy=policy,
                              if_due=not calendar.exact)
        who = f"User={user}\n" if user else ""
        units[f"{name}.service"] = (f"[Unit]\nDescription=crm-dr {kind} drill (tier {tier_name})\n\n"
                                    f"[Service]\nType=oneshot\n{who}ExecStart={systemd_exec(words)}\n")
        units[f"{name}.timer"] = (f"[Unit]\nDescription=crm-dr {kind} drill: {calendar.note}\n\n[Timer]\n"
                                  f"OnCalendar={calendar.on_calendar}\nPersistent=true\n\n"
                                  f"[Install]\nWantedBy=timers.target\n")
    return units


_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def systemd_exec(words: Sequence[str]) -> str:
    """A command line as systemd parses `ExecStart=`: quoted words, `%` and `$` escaped."""
    quoted = []
    for word in words:
        text = word.replace("%", "%%").replace("$", "$$")
        if not _PLAIN.fullmatch(word):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        quoted.append(text)
    return " ".join(quoted)


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
