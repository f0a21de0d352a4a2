"""The incident review on a fabricated incident whose figures are worked out by hand here.

Story (UTC, 14 October 2026): the primary crashes; the watch's first failed probe is at
10:00:00.000, it declares the outage at 10:00:01.500 (detect 1.5 s); the failover starts at once:
fence 10:00:01.600-10:00:01.800, promote -10:00:02.000, dns -10:00:02.050, validate succeeds at
10:00:02.400 (a write through the DNS name): RTO = 2.4 s. The watch was down from 10:00:00
to 10:00:02.4: minute 10:00 is covered 2.4 s of 60 (4 % < 5 %), so 0 downtime minutes from the
span; but the watch's buckets say 10:00 had 2 of 3 probes failed -> 1 downtime minute.
Updates: investigating 10:00:05, monitoring 10:00:10, resolved 10:30:00. Intake: first request 10:00:20,
3 requests, the last at 10:29:00, replayed 10:31:00.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.chain import verify
from drills.report.reviews import ReviewChain, read_reviews
from outage.credits.customers import Customer
from outage.credits.series import MinuteBucket, Month
from outage.review.actions import open_actions, overdue_reason
from outage.review.build import IncidentFacts, IntakeFacts, ProbeMeasurement, UpdateFact
from outage.review.history import DrillSummary, history, render_history
from outage.review.notes import load_notes
from outage.review.render import render_markdown
from outage.review.service import NoIntake, ReviewWorld, review_incident
from policies.credits import load_credit_policy
from policies.errors import ConfigError
from tests.conftest import crmdr

pytestmark = pytest.mark.unit

T0 = datetime(2026, 10, 14, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # October is over: its ledger is final


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(run: str, runbook: str, step: str, status: str, seconds: float, phase: str = "",
          reason: str = "") -> dict[str, Any]:
    return {"run": run, "runbook": runbook, "step": step, "status": status, "wall": at(seconds).isoformat(),
            "phase": phase, "reason": reason}


WATCH = "watch-20261014T100001Z-aaaaaa"
FAILOVER = "failover-20261014T100001Z-bbbbbb"
JOURNALS = {
    WATCH: [event(WATCH, "watch", "probe", "started", 0, "detect"),
            event(WATCH, "watch", "outage", "failed", 1.5, "detect", "outage declared: 3 consecutive probes failed")],
    FAILOVER: [event(FAILOVER, "failover", "fence", "started", 1.6, "fence"),
               event(FAILOVER, "failover", "fence", "succeeded", 1.8, "fence"),
               event(FAILOVER, "failover", "promote", "succeeded", 2.0, "promote"),
               {**event(FAILOVER, "failover", "dns", "succeeded", 2.05, "dns"), "evidence": "db.crm.lab. -> 127.0.0.12"},
               event(FAILOVER, "failover", "validate", "succeeded", 2.4, "validate"),
               event(FAILOVER, "failover", "run", "succeeded", 2.45)],
    "checklist-20261014T100005Z-ab12": [event("checklist-20261014T100005Z-ab12", "checklist", "tell-cs-lead",
                                              "succeeded", 60, "communicate", "confirmed by Dana")],
    "backup-20260101T000000Z-cccccc": [event("b", "backup", "upload", "succeeded", -86400 * 30)],  # not this one
}
INCIDENT = IncidentFacts(
    id="20261014T100005Z-ab12", title="CRM unavailable", impact="major", components=("web app", "API"),
    started_at=T0, resolved_at=at(1800), drill=False,
    updates=(UpdateFact(at(5), 1, "investigating", "watch", "deliveries: 2 delivered"),
             UpdateFact(at(10), 2, "monitoring", "failover"), UpdateFact(at(1800), 3, "resolved", "operator")))
NOTES = """\
incident: 20261014T100005Z-ab12
root_cause: The primary's disk filled with WAL because archiving to the DR bucket was failing unnoticed.
contributing_factors:
  - No alert on archive_command failures.
actions:
  - {id: A1, action: Alert when archive_command fails, owner: sre-team, due: 2026-10-28}
  - {id: A2, action: Add a disk-space check to the watch, owner: Dana, due: 2026-12-01}
  - {id: A3, action: Document WAL retention, owner: Lee, due: 2026-10-20, status: done, closed: 2026-10-19}
checklist_changes:
  - "Check the archiver's last failure time before declaring the primary healthy"
entered_by: [Dana (incident lead)]
"""


class Memory:
    def __init__(self, buckets: list[MinuteBucket]) -> None:
        self.buckets = buckets

    def incidents(self) -> list[IncidentFacts]:
        return [INCIDENT]

    def runs(self) -> list[tuple[str, Sequence[Mapping[str, Any]]]]:
        return list(JOURNALS.items())

    def read(self, month: Month) -> list[MinuteBucket]:
        return [b for b in self.buckets if month.start <= b.minute < month.end]

    def append(self, buckets: Sequence[MinuteBucket]) -> None:
        self.buckets += buckets


class Intake:
    def facts(self, incident: IncidentFacts) -> IntakeFacts:
        return IntakeFacts(first_taken_at=at(20), last_taken_at=at(1740), requests_taken=3, replayed_at=at(1860),
                           replayed=3, source="intake log")


class NoProbe:
    def measurement(self, incident: IncidentFacts) -> None:
        return None


def world(tmp_path: Path, key: Ed25519PrivateKey, *, intake: object = None, probe: object = None) -> ReviewWorld:
    memory = Memory([MinuteBucket("database", T0 - timedelta(minutes=1), 3, 0), MinuteBucket("database", T0, 1, 2),
                     MinuteBucket("database", T0 + timedelta(minutes=1), 3, 0)])
    return ReviewWorld(incidents=memory, journals=memory, intake=intake or Intake(),  # type: ignore[arg-type]
                       probe=probe or NoProbe(), publisher=ReviewChain(tmp_path / "reviews", key),  # type: ignore[arg-type]
                       series=memory)


CUSTOMERS = [Customer("b1", "Acme", "business", Decimal("1000.00"), "EUR"),
             Customer("e1", "Globex", "enterprise", Decimal("2000.00"), "EUR")]


def notes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "incidents"
    folder.mkdir(exist_ok=True)
    (folder / f"{INCIDENT.id}.yaml").write_text(NOTES)
    return folder


def test_the_review_joins_timeline_measurements_impact_and_findings(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    review, directory = review_incident(INCIDENT.id, world(tmp_path, key), load_credit_policy(), CUSTOMERS,
                                        notes_dir(tmp_path), now=NOW)
    m = review.measured
    assert (m.time_to_detect_seconds, m.rto_seconds) == (1.5, pytest.approx(2.4))
    assert "validate step of " + FAILOVER in m.rto_basis
    assert m.lost_writes is None and "no write probe ran" in m.loss_basis  # no write probe ran: not claimed
    assert review.impact.down_minutes == 1  # the watch's bucket at 10:00 (2 of 3 failed); the span alone is 4 %
    # October: 1 of 44 640 minutes down = 99.99776 %: both commitments (99.9, 99.95) met -> nothing owed
    assert (review.impact.credits_owed, review.impact.customers_owed, review.impact.credit_months) == ({}, 0,
                                                                                                     ["2026-10"])
    assert review.impact.requests_taken == 3
    kinds = [(e.kind, e.what.split(":")[0]) for e in review.timeline]
    assert kinds == [("watch", "first failed probe of the watch"), ("watch", "outage declared"),
                     ("runbook", "phase fence done in 0.200 s (fence)"),
                     ("runbook", "phase promote done in 0.000 s (promote)"),
                     ("runbook", "phase dns done in 0.000 s (dns)"), ("dns", "DNS name moved"),
                     ("runbook", "phase validate done in 0.000 s (validate)"), ("runbook", "failover succeeded"),
                     ("update", "customer update #1"), ("update", "customer update #2"),
                     ("intake", "downtime intake"), ("checklist", "checklist"), ("intake", "downtime intake"),
                     ("update", "customer update #3"), ("resolved", "incident resolved"),
                     ("replay", "replay into the CRM done (3 of 3 entered)")]
    assert "checklist: tell-cs-lead confirmed by Dana" in [e.what for e in review.timeline]
    assert review.findings.root_cause.startswith("The primary's disk filled")
    assert [a.id for a in review.findings.corrective_actions] == ["A1", "A2", "A3"]
    assert review.findings.checklist_changes and review.findings.entered_by == ["Dana (incident lead)"]
    count, problems = verify(tmp_path / "reviews")
    assert (count, problems) == (1, [])
    assert {p.name for p in directory.iterdir()} == {"report.json", "report.sig", "review.html", "review.md"}


def test_a_drill_write_probe_gives_rpo_and_lost_writes_and_a_bigger_outage_owes_credits(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    probe = type("Probe", (), {"measurement": lambda self, i: ProbeMeasurement(2.2, 0.3, 1, "drill report X")})()
    w = world(tmp_path, key, intake=NoIntake(), probe=probe)
    # 50 more minutes down on 14 October (11:00-11:49): 51 of 44 640 = 99.88575 %: business (99.9) 10 % = 100.00,
    # enterprise (99.95) 10 % = 200.00; the ledger counts the whole month, as `crmdr credits` does
    w.series.append([MinuteBucket("database", T0 + timedelta(hours=1, minutes=i), 0, 5) for i in range(50)])
    review, _ = review_incident(INCIDENT.id, w, load_credit_policy(), CUSTOMERS, tmp_path / "none", now=NOW)
    assert (review.measured.rto_seconds, review.measured.rpo_seconds, review.measured.lost_writes) == (2.2, 0.3, 1)
    assert review.impact.down_minutes == 1  # the incident's own minutes: the later hour is outside its span
    assert (review.impact.credits_owed, review.impact.customers_owed) == ({"EUR": "300.00"}, 2)
    assert review.impact.requests_taken is None and review.impact.requests_basis == "no intake record for this incident"
    assert review.findings.root_cause.startswith("not entered yet")
    assert any("not written yet" in s for s in review.sources)
    second, _ = review_incident(INCIDENT.id, w, load_credit_policy(), CUSTOMERS, tmp_path / "none",
                                now=NOW + timedelta(hours=1))
    assert second.chain.previous_report_id == review.report_id
    assert verify(tmp_path / "reviews") == (2, [])
    assert "| Time (UTC) | What | Source |" in render_markdown(second).decode()


def test_an_edited_review_breaks_the_chain(tmp_path: Path) -> None:
    _, directory = review_incident(INCIDENT.id, world(tmp_path, Ed25519PrivateKey.generate()), load_credit_policy(),
                                   CUSTOMERS, notes_dir(tmp_path), now=NOW)
    html = directory / "review.html"
    html.write_bytes(html.read_bytes().replace(b"CRM unavailable", b"CRM fine"))
    assert verify(tmp_path / "reviews")[1] == [f"report {directory.name}: file review.html was edited "
                                               "(SHA-256 differs from the signed one)"]


def test_unknown_incident_and_bad_notes_are_config_errors(tmp_path: Path) -> None:
    w = world(tmp_path, Ed25519PrivateKey.generate())
    with pytest.raises(ConfigError, match="incident nope: not in the status log"):
        review_incident("nope", w, load_credit_policy(), None, tmp_path, now=NOW)
    folder = notes_dir(tmp_path)
    (folder / f"{INCIDENT.id}.yaml").write_text(NOTES.replace("due: 2026-10-28", "due: soon"))
    with pytest.raises(ConfigError, match=r"line 6: field 'actions.0.due'"):
        review_incident(INCIDENT.id, w, load_credit_policy(), None, folder, now=NOW)
    assert not (tmp_path / "reviews").exists()


def test_open_actions_and_the_overdue_rule(tmp_path: Path) -> None:
    notes = load_notes(notes_dir(tmp_path) / f"{INCIDENT.id}.yaml")
    found = open_actions([notes], date(2026, 10, 29))
    assert [(a.action.id, a.overdue_days) for a in found] == [("A1", 1), ("A2", 0)]  # A3 is done
    assert overdue_reason(found) == ("1 corrective action(s) overdue; the oldest: 20261014T100005Z-ab12/A1 owned by "
                                     "sre-team, due 2026-10-28 (1 day(s) ago)")
    assert overdue_reason(open_actions([notes], date(2026, 10, 28))) is None  # due today is not overdue


def test_cli_actions_exits_1_when_one_is_overdue(tmp_path: Path) -> None:
    folder = notes_dir(tmp_path)
    late = crmdr("incident", "actions", "--notes-dir", str(folder), "--today", "2026-10-29", "--json")
    assert late.returncode == 1
    assert [a["id"] for a in json.loads(late.stdout)["open"]] == ["A1", "A2"]
    fine = crmdr("incident", "actions", "--notes-dir", str(folder), "--today", "2026-10-28")
    assert fine.returncode == 0 and "2 open action(s), none overdue" in fine.stdout
    (folder / "bad.yaml").write_text("incident: x\nroot_cause: y\nentered_by: []\n")
    bad = crmdr("incident", "actions", "--notes-dir", str(folder))
    assert bad.returncode == 2 and "bad.yaml: line 3: field 'entered_by'" in bad.stderr


def test_history_counts_detect_recover_downtime_credits_and_cost(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    w = world(tmp_path, key)
    review_incident(INCIDENT.id, w, load_credit_policy(), CUSTOMERS, notes_dir(tmp_path), now=NOW)
    review_incident(INCIDENT.id, w, load_credit_policy(), CUSTOMERS, notes_dir(tmp_path), now=NOW + timedelta(days=1))
    reviews = read_reviews(tmp_path / "reviews")
    drill = DrillSummary(datetime(2026, 10, 1, tzinfo=UTC), "failover", True, 1.4, 2.6, 0)
    figures = history(reviews, [drill], Decimal("4000.00"), "EUR", NOW)
    # one incident (two reviews of it: the newest counts), 1 downtime minute: 1/60 h x 4000 = 66.67 EUR
    assert (figures["incidents"], figures["drills"], figures["down_minutes"]) == (1, 1, 1)
    assert figures["cost"] == "66.67 EUR" and figures["cost_formula"] == "1 min / 60 x 4000.00 = 66.67 EUR"
    assert (figures["median_detect"], figures["median_recover"]) == ("1.500 s", "2.400 s")
    assert (figures["actions_open"], figures["actions_closed"]) == (2, 1)
    assert figures["months"] == [{"month": "2026-10", "incidents": 1, "down_minutes": 1, "credits": "",
                                  "cost": "66.67 EUR"}]
    assert b'id="summary"' in render_history(figures)


def test_intake_records_in_the_outage_become_requests_taken_and_the_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The intake adapter over a stand-in for the intake's store (its records: submitted_at, entered_at)."""
    import sys
    import types

    from outage.adapters.intake_records import IntakeRecords
    from tests.conftest import make_inventory

    record = types.SimpleNamespace
    records = [record(submitted_at=at(-60), entered_at=None),  # before the outage: not counted
               record(submitted_at=at(20), entered_at=at(1860)), record(submitted_at=at(900), entered_at=at(1900)),
               record(submitted_at=at(1700), entered_at=None), record(submitted_at=at(2000), entered_at=None)]
    store = types.SimpleNamespace(records=lambda: records)
    fake = types.ModuleType("outage.adapters.dynamo_intake")
    fake.DynamoIntakeStore = types.SimpleNamespace(connect=lambda *args: store)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "outage.adapters.dynamo_intake", fake)
    inventory = make_inventory(intake={"url": "http://127.0.0.15:8080"})
    facts = IntakeRecords(inventory, NOW).facts(INCIDENT)  # the incident runs from T0 to T0 + 1800 s
    assert facts is not None
    assert (facts.requests_taken, facts.first_taken_at, facts.last_taken_at) == (3, at(20), at(1700))
    assert (facts.replayed, facts.replayed_at) == (2, at(1900))
    assert IntakeRecords(make_inventory(), NOW).facts(INCIDENT) is None  # no intake declared


def test_cli_review_bad_input_exits_2_before_anything_is_signed(tmp_path: Path, inventory_file: Path) -> None:
    folder = notes_dir(tmp_path)
    (folder / f"{INCIDENT.id}.yaml").write_text(NOTES.replace("entered_by: [Dana (incident lead)]", "entered_by: []"))
    out = tmp_path / "reviews"
    bad_notes = crmdr("incident", "review", INCIDENT.id, "--notes-dir", str(folder), "--out", str(out),
                      "--inventory", str(inventory_file), "--json")
    assert bad_notes.returncode == 2 and json.loads(bad_notes.stdout)["error"]["exit_code"] == 2
    assert "field 'entered_by'" in bad_notes.stderr and "Traceback" not in bad_notes.stderr
    bad_csv = tmp_path / "c.csv"
    bad_csv.write_text("id,name,plan,monthly_fee\nx,X,nope,1\n")
    csv_first = crmdr("incident", "review", INCIDENT.id, "--customers", str(bad_csv), "--inventory", str(inventory_file))
    assert csv_first.returncode == 2 and "line 2: column 'plan'" in csv_first.stderr
    (folder / f"{INCIDENT.id}.yaml").write_text(NOTES)
    key = tmp_path / "key.pem"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key.chmod(0o600)
    no_status = crmdr("incident", "review", INCIDENT.id, "--notes-dir", str(folder), "--out", str(out),
                      "--signing-key", str(key), "--inventory", str(inventory_file))
    assert no_status.returncode == 2 and "field 'status'" in no_status.stderr  # the inventory declares no page
    assert not out.exists()


def test_cli_history_writes_the_page_from_the_signed_reviews(tmp_path: Path) -> None:
    review_incident(INCIDENT.id, world(tmp_path, Ed25519PrivateKey.generate()), load_credit_policy(), CUSTOMERS,
                    notes_dir(tmp_path), now=NOW)
    done = crmdr("incident", "history", "--out", str(tmp_path / "reviews"), "--reports", str(tmp_path / "none"),
                 "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    # the shipped policy's 4000.00 EUR per hour: 1 minute = 66.67 EUR
    assert (figures["incidents"], figures["down_minutes"], figures["cost"]) == (1, 1, "66.67 EUR")
    assert Path(figures["html"]).read_text().count('id="months"') == 1


def test_cli_actions_prints_what_people_wrote_verbatim(tmp_path: Path) -> None:
    folder = notes_dir(tmp_path)
    (folder / f"{INCIDENT.id}.yaml").write_text(NOTES.replace("Alert when archive_command fails",
                                                              "'[urgent] alert when archive_command fails'"))
    shown = crmdr("incident", "actions", "--notes-dir", str(folder), "--today", "2026-10-01")
    assert shown.returncode == 0 and "[urgent] alert when archive_command fails" in shown.stdout
