"""`crmdr drill schedule` output fed to the programs that run it: systemd-analyze and /bin/sh.

A schedule is only true if cron and systemd run it as written, as often as the cadence says.
"""

import re
import shlex
import subprocess
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.schedule import not_due_yet, systemd_exec
from policies.schedules import drill_calendar
from policies.sla import load_policy
from tests.conftest import crmdr, make_inventory
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit

CRON_LINE = re.compile(r"^(\S+ \S+ \S+ \S+ \S+) (\S+) (.+)$")


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inv.json"
    path.write_text(make_inventory().to_json())
    return path


def cron_entries(text: str) -> list[tuple[str, str, str]]:
    """(schedule, user, command) of every non-comment cron.d line."""
    entries = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = CRON_LINE.match(line)
            assert match, f"not a cron.d line: {line}"
            schedule, user, command = match.groups()
            entries.append((schedule, user, command))
    return entries


@pytest.mark.parametrize(("cadence", "cron", "exact"), [
    (timedelta(minutes=15), "*/15 * * * *", True), (timedelta(hours=6), "17 */6 * * *", True),
    (timedelta(days=1), "17 3 * * *", True), (timedelta(days=7), "17 3 * * 1", True),
    (timedelta(hours=5), "17 * * * *", False), (timedelta(days=30), "17 3 * * *", False),
    (timedelta(days=365), "17 3 * * *", False),
])
def test_cadences_are_exact_or_a_check_that_waits_until_due(cadence: timedelta, cron: str, exact: bool) -> None:
    calendar = drill_calendar(cadence)
    assert (calendar.cron, calendar.exact) == (cron, exact)
    assert ("once it is due" in calendar.note) is not exact


def test_a_cadence_no_calendar_can_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="every 7m"):
        drill_calendar(timedelta(minutes=7))


@pytest.mark.parametrize("cadence", [timedelta(minutes=15), timedelta(hours=6), timedelta(days=1),
                                     timedelta(days=7)])
def test_systemd_computes_exactly_one_cadence_between_runs(cadence: timedelta) -> None:
    """systemd's own calendar arithmetic: every gap between the next elapses is the cadence."""
    calendar = drill_calendar(cadence)
    shown = subprocess.run(["systemd-analyze", "calendar", "--iterations=6", calendar.on_calendar],
                           capture_output=True, text=True, check=True).stdout
    stamps = [datetime.strptime(" ".join(m.split()[1:3]), "%Y-%m-%d %H:%M:%S")
              for m in re.findall(r"(?:Next elapse|Iter\. #\d+): (\w+ \S+ \S+)", shown)]
    assert len(stamps) == 6
    assert {b - a for a, b in pairwise(stamps)} == {cadence}


def test_the_check_starts_a_drill_one_cadence_after_the_last_passing_start(tmp_path: Path) -> None:
    report = load_report_made(tmp_path)
    gold = load_policy().tier("gold")
    started = report.started_at.replace(second=0, microsecond=0)
    assert not_due_yet(gold, [report], "failover", started + timedelta(days=30)) is None
    early = not_due_yet(gold, [report], "failover", started + timedelta(days=30) - timedelta(seconds=1))
    assert early is not None and "not due" in early and "every 30d" in early
    assert not_due_yet(gold, [report], "restore-test", started) is None, "never passed: due"


def load_report_made(tmp_path: Path):  # type: ignore[no-untyped-def]
    from drills.report.store import past_reports

    make_report(tmp_path / "out", Ed25519PrivateKey.generate(), 1)
    return past_reports(tmp_path / "out")[0]


def test_systemd_analyze_accepts_the_generated_units(tmp_path: Path, inventory: Path) -> None:
    units = tmp_path / "units"
    done = crmdr("drill", "schedule", "--inventory", str(inventory), "--format", "systemd", "--install",
                 "--dest", str(units), "--out", str(tmp_path / "reports 100%"))
    assert done.returncode == 0, done.stderr
    timer = (units / "crmdr-drill-failover.timer").read_text()
    assert "OnCalendar=*-*-* 03:17:00\n" in timer and "Persistent=true\n" in timer
    assert "OnBootSec" not in timer and "OnUnitActiveSec" not in timer
    assert "--if-due" in (units / "crmdr-drill-failover.service").read_text(), "30d is a daily check"
    files = sorted(str(path) for path in units.iterdir())
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True)
    ours = [line for line in (verified.stdout + verified.stderr).splitlines() if "crmdr-drill" in line]
    assert verified.returncode == 0 and not ours, verified.stdout + verified.stderr


def test_systemd_quoting_round_trips_awkward_words() -> None:
    assert systemd_exec(["/bin/x", "a b", "100%", "$HOME", 'q"t']) == '/bin/x "a b" "100%%" "$$HOME" "q\\"t"'


def test_cron_lines_have_a_user_and_a_command_sh_runs_as_written(tmp_path: Path, inventory: Path) -> None:
    out = tmp_path / "reports"
    make_report(out, Ed25519PrivateKey.generate(), 1)  # a passing failover drill, March 2026
    printed = crmdr("drill", "schedule", "--inventory", str(inventory), "--tier", "bronze", "--out", str(out),
                    "--user", "crmdr")
    assert printed.returncode == 0, printed.stderr
    entries = cron_entries(printed.stdout)
    assert [user for _, user, _ in entries] == ["crmdr"] * 3
    by_type = {re.search(r"--type (\S+)", command).group(1): (schedule, command)  # type: ignore[union-attr]
               for schedule, _, command in entries}
    assert by_type["failover"][0] == "17 3 * * *" and by_type["failover"][1].endswith(" --if-due")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # what cron gives a job
    for _schedule, command in by_type.values():
        words = subprocess.run(["/bin/sh", "-c", "printf '%s\\n' " + command], capture_output=True, text=True,
                               env=env, check=True).stdout.splitlines()
        assert words == shlex.split(command) and words[1:4] == ["drill", "run", "--type"]
        assert Path(words[0]).is_absolute() and Path(words[0]).exists()
    ran = subprocess.run(["/bin/sh", "-c", by_type["failover"][1]], capture_output=True, text=True, env=env,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "failover drill not due: every 365d" in ran.stdout and "due 2027-03-02" in ran.stdout


def test_a_tier_cron_cannot_hold_is_exit_2(tmp_path: Path, inventory: Path) -> None:
    policy = tmp_path / "policy.yaml"
    shipped = (Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml").read_text()
    policy.write_text(shipped.replace("      backup-verify: 1d\n", "      backup-verify: 7m\n", 1))
    result = crmdr("drill", "schedule", "--inventory", str(inventory), "--policy", str(policy))
    assert result.returncode == 2 and "every 7m" in result.stderr and "Traceback" not in result.stderr
