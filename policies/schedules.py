"""Schedule expressions from SLA durations, and back again.

The Pulumi program turns a tier's backup frequency into an AWS Backup cron and its drill
cadences into EventBridge Scheduler rates; the guardrails read an expression back into the
longest gap it allows. Both directions live here so that "every 6h" means the same thing to
the code that writes a schedule and to the rule that judges it.
"""

import re
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
