"""Schedule expressions from SLA durations, and back again.

The Pulumi program turns a tier's backup frequency into an AWS Backup cron and its drill
cadences into EventBridge Scheduler rates; the guardrails read an expression back into the
longest gap it allows. Both directions live here so that "every 6h" means the same thing to
the code that writes a schedule and to the rule that judges it.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from policies.durations import format_duration

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MONTH = timedelta(days=31)
BACKUP_HOUR_UTC = 5
"""Daily and rarer backups start at 05:00 UTC: off-peak in Europe and the Americas."""

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")
_UNIT = {"minute": timedelta(minutes=1), "hour": HOUR, "day": DAY}


def backup_cron(frequency: timedelta) -> str:
    """The AWS Backup cron whose longest gap between two runs is at most `frequency`.

    Steps (`*/6` hours, `*/2` days) restart at midnight or on the 1st, which only ever makes
    a gap shorter, so rounding the step down keeps the promise.
    """
    if frequency < HOUR:
        raise ValueError(
            f"AWS Backup runs at most hourly; a backup frequency of {format_duration(frequency)} "
            "needs replication (pilot-light or warm-standby) to meet its RPO"
        )
    if frequency < DAY:
        hours = int(frequency / HOUR)
        return "cron(0 * * * ? *)" if hours == 1 else f"cron(0 */{hours} * * ? *)"
    days = min(int(frequency / DAY), 31)
    step = "*" if days == 1 else f"*/{days}"
    return f"cron(0 {BACKUP_HOUR_UTC} {step} * ? *)"


def rate_expression(every: timedelta) -> str:
    """An EventBridge Scheduler `rate(...)` never rarer than `every` (rounded down to a minute)."""
    minutes = int(every.total_seconds() // 60)
    if minutes < 1:
        raise ValueError(f"EventBridge Scheduler runs at most every minute, got {format_duration(every)}")
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable: every minute count is a multiple of 1")


@dataclass(frozen=True)
class Calendar:
    """When cron and systemd start a drill of one cadence, and what that means.

    `exact`: the schedule fires exactly once per cadence. Otherwise cron and systemd cannot
    express the cadence and the schedule is a check (`every`) that starts the drill only once
    it is due (`crmdr drill run --if-due`): never more often than the cadence, at most one
    check interval after it is due. `note` says which, in words.
    """

    cron: str
    on_calendar: str
    exact: bool
    note: str


DRILL_MINUTE = 17
DRILL_HOUR = 3
"""Drills start at 03:17: off the hour (where other jobs pile up), at night in Europe."""


def drill_calendar(cadence: timedelta) -> Calendar:
    """The cron (5 fields) and systemd `OnCalendar=` for a drill cadence, both in the host's time.

    Exact for what a calendar can repeat evenly (a divisor of an hour or a day, one day, one
    week); a check for the rest (30 days is neither monthly nor weekly). Below an hour, only
    divisors of 60 minutes can be scheduled: anything else is refused.
    """
    every = format_duration(cadence)
    minutes, rest = divmod(int(cadence.total_seconds()), 60)
    if rest or minutes < 1:
        raise ValueError(f"a drill cadence must be whole minutes, got {every}")
    if minutes < 60:
        if 60 % minutes:
            raise ValueError(f"cron and systemd cannot start a drill every {every} (use a divisor of 60 minutes)")
        step = "*" if minutes == 1 else f"*/{minutes}"
        return Calendar(f"{step} * * * *", f"*-*-* *:00/{minutes}:00", True, f"every {every}")
    if minutes < 1440 and minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        step = "*" if hours == 1 else f"*/{hours}"
        return Calendar(f"{DRILL_MINUTE} {step} * * *", f"*-*-* 00/{hours}:{DRILL_MINUTE}:00", True,
                        f"every {every}")
    at = f"{DRILL_HOUR:02}:{DRILL_MINUTE:02}"
    if minutes == 1440:
        return Calendar(f"{DRILL_MINUTE} {DRILL_HOUR} * * *", f"*-*-* {at}:00", True, f"every {every}, at {at}")
    if minutes == 10080:
        return Calendar(f"{DRILL_MINUTE} {DRILL_HOUR} * * 1", f"Mon *-*-* {at}:00", True,
                        f"every {every}, Mondays at {at}")
    if minutes < 1440:
        return Calendar(f"{DRILL_MINUTE} * * * *", f"*-*-* *:{DRILL_MINUTE}:00", False,
                        f"every {every}: a calendar cannot repeat {every} evenly, so an hourly check at "
                        f":{DRILL_MINUTE} starts the drill once it is due (at most 1h after)")
    return Calendar(f"{DRILL_MINUTE} {DRILL_HOUR} * * *", f"*-*-* {at}:00", False,
                    f"every {every}: a calendar cannot repeat {every} evenly, so a daily check at {at} "
                    "starts the drill once it is due (at most 1d after)")


def longest_gap(expression: str) -> timedelta | None:
    """The longest time between two runs of a rate or cron expression; None if not understood.

    Understands `rate(...)` and the cron shapes this toolkit writes (fixed minute; every hour,
    every N hours or a fixed hour; every day, every N days, one weekday or one day of the month).
    """
    rate = _RATE.match(expression.strip())
    if rate:
        return int(rate.group(1)) * _UNIT[rate.group(2).rstrip("s")]
    cron = _CRON.match(expression.strip())
    if not cron:
        return None
    minute, hour, day_of_month, month, day_of_week, _year = cron.groups()
    if not minute.isdigit() or month != "*":
        return None
    if hour == "*":
        return HOUR if (day_of_month, day_of_week) in (("*", "?"), ("?", "*")) else None
    if hour.startswith("*/") and hour[2:].isdigit():
        hours_gap = int(hour[2:]) * HOUR
        return hours_gap if (day_of_month, day_of_week) in (("*", "?"), ("?", "*")) else None
    if not hour.isdigit():
        return None
    return _daily_gap(day_of_month, day_of_week)


def _daily_gap(day_of_month: str, day_of_week: str) -> timedelta | None:
    if (day_of_month, day_of_week) in (("*", "?"), ("?", "*")):
        return DAY
    if day_of_week == "?" and day_of_month.startswith("*/") and day_of_month[2:].isdigit():
        return int(day_of_month[2:]) * DAY
    if day_of_week == "?" and day_of_month.isdigit():
        return MONTH
    if day_of_month == "?" and re.fullmatch(r"[1-7]|SUN|MON|TUE|WED|THU|FRI|SAT", day_of_week):
        return WEEK
    return None
