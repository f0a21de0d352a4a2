"""Credits on fabricated histories whose answers are worked out by hand in each test.

November 2026 has 30 days = 43 200 minutes; October 2026 has 31 = 44 640. The policy below is
written here (not the shipped one) so every figure the tests assert follows from it:
  business:   99.9 %;  below 99.9 -> 10 %, below 99.0 -> 30 %, below 95.0 -> 100 %; cap 50 %, minimum 1.00
  enterprise: 99.95 %; below 99.95 -> 10 %, below 99.0 -> 25 %; cap 100 %, minimum 1.00
  starter:    99.0 %, no credits
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from outage.credits.customers import Customer, parse_customers
from outage.credits.issuing import IssuedCredit
from outage.credits.ledger import build_ledger, credit_amount
from outage.credits.notices import Notice, draft_notice
from outage.credits.recorder import MinuteRecorder
from outage.credits.recording import AvailabilityRecording
from outage.credits.render import ledger_dict, render_csv, render_html, safe_cell
from outage.credits.series import MinuteBucket, Month, Span, bucket_probes, merge
from outage.credits.service import CreditsWorld, NoSpans, run_credits
from outage.credits.spans import incident_spans, outage_spans
from policies.credits import CreditPolicy, load_credit_policy
from policies.errors import CloudError, ConfigError
from tests.conftest import crmdr

pytestmark = pytest.mark.unit

POLICY = """\
version: 1
currency: EUR
downtime_minute:
  failed_share: 5
components:
  database: the CRM database
  web: the web application
depends_on:
  web: [database]
plans:
  business:
    commitment: 99.9
    credits:
      - {below: 99.9, credit: 10}
      - {below: 99.0, credit: 30}
      - {below: 95.0, credit: 100}
    minimum_amount: 1.00
    cap_percent: 50
    components: [web]
  enterprise:
    commitment: 99.95
    credits:
      - {below: 99.95, credit: 10}
      - {below: 99.0, credit: 25}
    minimum_amount: 1.00
  starter:
    commitment: 99.0
    credits: []
"""
NOV = Month(2026, 11)
OCT = Month(2026, 10)
AFTER = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # both months are over


@pytest.fixture
def policy(tmp_path: Path) -> CreditPolicy:
    path = tmp_path / "credits.yaml"
    path.write_text(POLICY)
    return load_credit_policy(path)


def customer(cid: str, plan: str, fee: str, language: str = "en") -> Customer:
    return Customer(id=cid, name=f"Customer {cid}", plan=plan, monthly_fee=Decimal(fee), currency="EUR",
                    contact=f"billing@{cid}.example", language=language)  # type: ignore[arg-type]


def down_minutes(start: datetime, count: int, component: str = "database") -> list[MinuteBucket]:
    """`count` minutes from `start` in which every one of 20 probes failed."""
    return [MinuteBucket(component, start + timedelta(minutes=i), ok=0, failed=20) for i in range(count)]


def healthy(month: Month, component: str = "database") -> list[MinuteBucket]:
    return [MinuteBucket(component, month.start + timedelta(minutes=i), ok=60, failed=0) for i in range(month.minutes)]


def line_of(ledger, cid):  # type: ignore[no-untyped-def]
    return next(line for line in ledger.lines if line.customer.id == cid)


def test_months_know_their_minutes() -> None:
    assert (NOV.minutes, OCT.minutes, Month(2028, 2).minutes, Month(2026, 12).next()) == (43200, 44640, 41760,
                                                                                         Month(2027, 1))
    with pytest.raises(ConfigError, match="YYYY-MM"):
        Month.parse("2026-13")


def test_a_month_with_no_downtime_owes_nothing_and_keeps_the_whole_budget(policy: CreditPolicy) -> None:
    ledger = build_ledger(policy, [customer("a", "business", "1000.00")], healthy(NOV), [], NOV, AFTER)
    line = line_of(ledger, "a")
    assert line.availability.down_minutes == 0
    assert line.availability.percent == 100
    # 99.9 % of 43 200 minutes allows 43.2 down minutes; none were used
    assert line.availability.budget_left(Decimal("99.9")) == Decimal("43.2")
    assert (line.credit_percent, line.amount, line.owed) == (0, Decimal("0.00"), False)
    assert ledger.complete and ledger.total() == {}


def test_exactly_at_a_threshold_is_not_below_it(policy: CreditPolicy) -> None:
    business = policy.plan("business")
    assert business.credit_percent(Decimal("99.9")) == 0  # exactly at the commitment: no credit
    assert business.credit_percent(Decimal("99.8999")) == 10
    assert business.credit_percent(Decimal("99.0")) == 10  # exactly at the 99.0 step: still the 10 % step
    assert business.credit_percent(Decimal("98.9999")) == 30
    # Whole minutes never land exactly on 99.9 % (N x 1.44 minutes is whole only for N = 125 k days), so the
    # month-level exact case is the 99.0 % step: 432 of 43 200 minutes down = exactly 99.0 %.
    start = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    customers = [customer("a", "business", "1000.00")]
    at = build_ledger(policy, customers, down_minutes(start, 432), [], NOV, AFTER).lines[0]
    assert (at.availability.percent, at.credit_percent, at.amount) == (Decimal(99), 10, Decimal("100.00"))
    below = build_ledger(policy, customers, down_minutes(start, 433), [], NOV, AFTER).lines[0]
    assert (below.credit_percent, below.amount) == (30, Decimal("300.00"))
    # 43 minutes: 43 157 / 43 200 = 99.90046 % >= 99.9, no credit; 44 minutes: 99.89814 %, 10 %
    assert build_ledger(policy, customers, down_minutes(start, 43), [], NOV, AFTER).lines[0].credit_percent == 0
    forty_four = build_ledger(policy, customers, down_minutes(start, 44), [], NOV, AFTER).lines[0]
    assert forty_four.credit_percent == 10
    assert forty_four.availability.budget_left(Decimal("99.9")) == Decimal("-0.8")


def test_an_outage_spanning_two_months_is_split_at_midnight_utc(policy: CreditPolicy) -> None:
    # 23:30 on 31 October to 00:45 on 1 November: 30 minutes in October, 45 in November
    buckets = down_minutes(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), 75)
    customers = [customer("b", "business", "1000.00"), customer("e", "enterprise", "2000.00")]
    october = build_ledger(policy, customers, buckets, [], OCT, AFTER)
    november = build_ledger(policy, customers, buckets, [], NOV, AFTER)
    assert [line.availability.down_minutes for line in october.lines] == [30, 30]
    assert [line.availability.down_minutes for line in november.lines] == [45, 45]
    # October: 44 610 / 44 640 = 99.9328 %: business (99.9) met; enterprise (99.95) missed -> 10 % of 2000
    assert [(x.credit_percent, x.amount) for x in october.lines] == [(0, Decimal("0.00")), (10, Decimal("200.00"))]
    # November: 43 155 / 43 200 = 99.8958 %: both missed -> 10 %
    assert [(x.credit_percent, x.amount) for x in november.lines] == [(10, Decimal("100.00")),
                                                                      (10, Decimal("200.00"))]


def test_a_declared_span_counts_minutes_it_covers_for_the_rules_share(policy: CreditPolicy) -> None:
    # 23:50:00 -> 00:10:30: 10 whole minutes in October; in November 00:00-00:09 whole and 30 s of 00:10
    # (30 s >= 5 % of 60 s = 3 s), so 11. A span ending at 00:20:02 covers only 2 s of 00:20: not down.
    span = Span(datetime(2026, 10, 31, 23, 50, tzinfo=UTC), datetime(2026, 11, 1, 0, 10, 30, tzinfo=UTC),
                frozenset({"database"}), "incident")
    short = Span(datetime(2026, 11, 1, 0, 19, tzinfo=UTC), datetime(2026, 11, 1, 0, 20, 2, tzinfo=UTC),
                 frozenset({"database"}), "journal")
    customers = [customer("b", "business", "10.00")]
    assert build_ledger(policy, customers, [], [span], OCT, AFTER).lines[0].availability.down_minutes == 10
    assert build_ledger(policy, customers, [], [span, short], NOV, AFTER).lines[0].availability.down_minutes == 12


def test_the_downtime_minute_rule_is_five_percent_of_valid_probes_by_default(policy: CreditPolicy) -> None:
    minute = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    buckets = [MinuteBucket("database", minute, ok=19, failed=1),  # 1/20 = 5 %: down
               MinuteBucket("database", minute + timedelta(minutes=1), ok=20, failed=1),  # 1/21 = 4.76 %: up
               MinuteBucket("database", minute + timedelta(minutes=2), ok=0, failed=0)]  # no probe: unmeasured
    ledger = build_ledger(policy, [customer("a", "business", "1.00")], buckets, [], NOV, AFTER)
    assert ledger.components["database"].down_minutes == 1
    assert ledger.components["database"].measured_minutes == 2
    lenient = CreditPolicy.model_validate({**policy.model_dump(), "downtime_minute": {"failed_share": 50}})
    assert build_ledger(lenient, [], buckets, [], NOV, AFTER).components["database"].down_minutes == 0


def test_two_writers_are_summed_and_a_plan_sees_what_its_components_depend_on(policy: CreditPolicy) -> None:
    minute = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    merged = merge([MinuteBucket("database", minute, 10, 0), MinuteBucket("database", minute, 9, 1)])
    assert merged[("database", minute)] == MinuteBucket("database", minute, 19, 1)
    # business covers `web`, which depends on `database`: database minutes are its downtime too
    ledger = build_ledger(policy, [customer("a", "business", "1.00")], down_minutes(minute, 3) +
                          down_minutes(minute + timedelta(minutes=2), 2, "web"), [], NOV, AFTER)
    assert ledger.lines[0].availability.down_minutes == 4  # 12:00-12:02 database, 12:02-12:03 web
    assert ledger.components["database"].down_minutes == 3
    assert ledger.components["web"].down_minutes == 4


def test_a_plan_without_credits_owes_nothing_however_long_the_outage(policy: CreditPolicy) -> None:
    buckets = down_minutes(datetime(2026, 11, 5, tzinfo=UTC), 3 * 1440)  # three days down: 90 %
    line = build_ledger(policy, [customer("s", "starter", "500.00")], buckets, [], NOV, AFTER).lines[0]
    assert line.availability.percent == 90
    assert (line.credit_percent, line.amount, line.reason) == (0, Decimal("0.00"), "the plan has no service credits")


def test_cap_minimum_and_rounding_are_applied_to_the_money(policy: CreditPolicy) -> None:
    business, enterprise = policy.plan("business"), policy.plan("enterprise")
    assert credit_amount(business, Decimal("1000.00"), Decimal(100)) == (
        Decimal("500.00"), "100 % of the monthly fee, capped at 500.00")  # cap 50 %
    assert credit_amount(enterprise, Decimal("33.33"), Decimal(10))[0] == Decimal("3.33")  # 3.333 -> 3.33
    assert credit_amount(enterprise, Decimal("12.25"), Decimal(10))[0] == Decimal("1.23")  # 1.225 half up
    amount, reason = credit_amount(enterprise, Decimal("5.00"), Decimal(10))  # 0.50 < minimum 1.00
    assert amount == Decimal("0.00") and "below the plan's minimum of 1.00" in reason


class MemoryWorld:
    """Every port in memory; `record` is create-only like the S3 conditional write."""

    def __init__(self, buckets: list[MinuteBucket]) -> None:
        self.buckets = buckets
        self.records: dict[tuple[str, str], IssuedCredit] = {}
        self.sent: list[Notice] = []
        self.delivered: set[tuple[str, str]] = set()
        self.ledgers: list[dict[str, bytes]] = []

    def append(self, buckets: list[MinuteBucket]) -> None:
        self.buckets += buckets

    def read(self, month: Month) -> list[MinuteBucket]:
        return list(self.buckets)

    def issued(self, month: Month) -> dict[str, IssuedCredit]:
        return {cid: r for (m, cid), r in self.records.items() if m == str(month)}

    def record(self, credit: IssuedCredit) -> bool:
        key = (credit.month, credit.customer_id)
        if key in self.records:
            return False
        self.records[key] = credit
        return True

    def notified(self, month: Month) -> set[str]:
        return {cid for m, cid in self.delivered if m == str(month)}

    def mark_notified(self, month: Month, customer_id: str, delivery: str) -> None:
        self.delivered.add((str(month), customer_id))

    def save_ledger(self, month: Month, files: dict[str, bytes]) -> list[str]:
        self.ledgers.append(files)
        return [f"memory/{name}" for name in files]

    def send(self, month: Month, notice: Notice) -> str:
        self.sent.append(notice)
        return f"memory outbox {notice.customer_id}"

    def world(self) -> CreditsWorld:
        return CreditsWorld(series=self, records=self, notifier=self, spans=NoSpans())


def test_issuing_twice_issues_nothing_new_and_sends_each_notice_once(policy: CreditPolicy) -> None:
    memory = MemoryWorld(down_minutes(datetime(2026, 11, 10, tzinfo=UTC), 44))  # 99.8981 %: 10 %
    customers = [customer("a", "business", "1000.00"), customer("b", "enterprise", "80.00", "de"),
                 customer("s", "starter", "50.00")]
    first = run_credits(policy, customers, NOV, memory.world(), now=AFTER, run_id="run-1")
    assert (first.document["issued_now"], first.document["issued_before"]) == (2, 0)
    assert first.document["totals_owed"] == {"EUR": "108.00"}  # 100.00 + 8.00
    assert [n.customer_id for n in memory.sent] == ["a", "b"]
    second = run_credits(policy, customers, NOV, memory.world(), now=AFTER + timedelta(days=1), run_id="run-2")
    assert (second.document["issued_now"], second.document["issued_before"]) == (0, 2)
    assert len(memory.records) == 2 and len(memory.sent) == 2
    assert [c["status"] for c in second.document["customers"]] == ["issued-before", "issued-before", "not-owed"]
    assert "run run-1" in second.document["customers"][0]["reason"]


def test_a_month_not_over_is_provisional_and_issues_nothing(policy: CreditPolicy) -> None:
    memory = MemoryWorld(down_minutes(datetime(2026, 11, 10, tzinfo=UTC), 500))
    during = datetime(2026, 11, 20, tzinfo=UTC)
    run = run_credits(policy, [customer("a", "business", "1000.00")], NOV, memory.world(), now=during, run_id="r")
    assert run.document["complete"] is False
    assert run.document["customers"][0]["status"] == "provisional"
    assert memory.records == {} and memory.sent == []


def test_a_run_that_loses_the_race_reports_issued_before(policy: CreditPolicy) -> None:
    memory = MemoryWorld(down_minutes(datetime(2026, 11, 10, tzinfo=UTC), 44))
    memory.record(IssuedCredit("2026-11", "a", "Customer a", "business", "99.8981", 44, "10", "100.00", "EUR",
                               AFTER, "other-run"))
    world = memory.world()
    original = memory.issued
    memory.issued = lambda month: {}  # type: ignore[method-assign]  # the other run recorded after our read
    run = run_credits(policy, [customer("a", "business", "1000.00")], NOV, world, now=AFTER, run_id="late")
    memory.issued = original  # type: ignore[method-assign]
    assert run.document["customers"][0]["status"] == "issued-before"
    assert memory.records[("2026-11", "a")].run_id == "other-run"


def test_notices_say_what_how_long_the_credit_and_sorry_in_english_and_german(policy: CreditPolicy) -> None:
    buckets = down_minutes(datetime(2026, 11, 10, 8, 0, tzinfo=UTC), 125)
    customers = [customer("a", "business", "1000.00"), customer("b", "business", "1000.00", "de")]
    span = Span(datetime(2026, 11, 10, 8, 0, tzinfo=UTC), datetime(2026, 11, 10, 10, 5, tzinfo=UTC),
                frozenset({"database"}), "incident")
    ledger = build_ledger(policy, customers, buckets, [span], NOV, AFTER)
    english, german = (draft_notice(line, NOV, [span], AFTER) for line in ledger.lines)
    # 125 minutes of 43 200: 99.7106 % -> 10 % of 1000.00
    assert english.subject == "Service credit for November 2026: 100.00 EUR"
    for text in ("2 h 5 min", "125 downtime minutes", "99.9 %", "99.7106 %", "10 %", "100.00 EUR", "sorry",
                 "2026-11-10 08:00 to 2026-11-10 10:05 UTC", "do not need to claim"):
        assert text in english.body
    assert german.subject == "Gutschrift für November 2026: 100,00 EUR"
    for text in ("2 Std. 5 Min.", "125 Ausfallminuten", "99,9 %", "99,7106 %", "100,00 EUR", "entschuldigen"):
        assert text in german.body
    assert english.contact == "billing@a.example"


def test_the_ledger_shows_no_contact_and_neutralises_formulas_and_markup(policy: CreditPolicy) -> None:
    evil = Customer(id="=HYPERLINK(\"http://x\")", name="<script>alert(1)</script>", plan="business",
                    monthly_fee=Decimal("10.00"), currency="EUR", contact="person@example.org")
    memory = MemoryWorld([])
    run = run_credits(policy, [evil], NOV, memory.world(), now=AFTER, run_id="r")
    csv_text = render_csv(run.document).decode()
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    html = render_html(run.document).decode()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert all("person@example.org" not in data.decode() for data in run.files.values())
    assert [safe_cell(x) for x in ("-1", "+1", "@a", "ok")] == ["'-1", "'+1", "'@a", "ok"]
    assert ledger_dict(build_ledger(policy, [], [], [], NOV, AFTER), [], policy)["customers"] == []


def test_a_bad_customer_row_names_the_line_and_the_column(policy: CreditPolicy) -> None:
    good = "id,name,plan,monthly_fee,currency,contact,language\nc1,Acme,business,1200.00,EUR,a@b.c,de\n"
    assert parse_customers(good, source="c.csv", policy=policy)[0].language == "de"
    cases = {
        good + "c2,Beta,gold,10,EUR,,\n": r"c\.csv: line 3: column 'plan': unknown plan 'gold'",
        good + "c2,Beta,business,12.345,EUR,,\n": r"line 3: column 'monthly_fee'",
        good + "c2,Beta,business,12,USD,,\n": r"line 3: column 'currency': plan 'business' is priced in EUR",
        good + "c1,Again,business,1,EUR,,\n": r"line 3: column 'id': customer 'c1' is already on line 2",
        good + "c2,,business,1,EUR,,\n": r"line 3: column 'name': is empty",
        good + "c2,Beta,business,1,EUR,,fr\n": r"line 3: column 'language'",
        "id,name,plan\nc1,Acme,business\n": r"line 1: missing column\(s\) monthly_fee",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            parse_customers(text, source="c.csv", policy=policy)


def test_the_recorder_hands_out_a_minute_once_it_is_complete() -> None:
    recorder = MinuteRecorder("database")
    t = datetime(2026, 11, 2, 12, 0, 58, tzinfo=UTC)
    assert recorder.observe(t, True) == []
    assert recorder.observe(t + timedelta(seconds=1), False) == []
    assert recorder.observe(t + timedelta(seconds=2), True) == [MinuteBucket("database", t.replace(second=0), 1, 1)]
    assert recorder.flush() == [MinuteBucket("database", datetime(2026, 11, 2, 12, 1, tzinfo=UTC), 1, 0)]
    assert recorder.flush() == []
    assert bucket_probes("api", [(t, True), (t, False), (t + timedelta(minutes=1), True)]) == [
        MinuteBucket("api", t.replace(second=0), 1, 1), MinuteBucket("api", datetime(2026, 11, 2, 12, 1, tzinfo=UTC), 1, 0)]


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_credit_policy_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "credits.yaml"
    path.write_text(POLICY.replace("    components: [web]", "    components: [mobile]"))
    with pytest.raises(ConfigError, match=rf"credits.yaml: line {_line(path, 'mobile')}: field 'plans.business.components.0': "
                                          r"unknown component 'mobile'"):
        load_credit_policy(path)
    path.write_text(POLICY.replace("{below: 99.0, credit: 30}", "{below: 99.0, credit: five}"))
    with pytest.raises(ConfigError, match=rf"line {_line(path, 'five')}: field 'plans.business.credits.1.credit'"):
        load_credit_policy(path)
    path.write_text(POLICY.replace("{below: 99.95, credit: 10}", "{below: 99.99, credit: 10}"))
    with pytest.raises(ConfigError, match=rf"line {_line(path, '99.99')}: field 'plans.enterprise.credits.0.below': "
                                          "a credit step above"):
        load_credit_policy(path)
    assert set(load_credit_policy().plans) == {"enterprise", "business", "starter"}


class FlakySeries:
    """Fails its first append (S3 unreachable for a moment), then keeps what it is given."""

    def __init__(self) -> None:
        self.kept: list[MinuteBucket] = []
        self.calls = 0

    def append(self, buckets: list[MinuteBucket]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise CloudError("bucket unreachable")
        self.kept += buckets

    def read(self, month: Month) -> list[MinuteBucket]:
        return self.kept


def test_the_watch_recording_survives_a_failed_write_and_loses_no_minute() -> None:
    series = FlakySeries()
    recording = AvailabilityRecording(series, "database")
    t = datetime(2026, 11, 2, 12, 0, 30, tzinfo=UTC)
    for second in range(0, 150, 10):  # 12:00:30 .. 12:02:50, one probe every 10 s; 12:01 all failed
        at = t + timedelta(seconds=second)
        recording(at, at.minute != 1)
    recording.close()
    assert series.kept == [MinuteBucket("database", datetime(2026, 11, 2, 12, 0, tzinfo=UTC), 3, 0),
                           MinuteBucket("database", datetime(2026, 11, 2, 12, 1, tzinfo=UTC), 0, 6),
                           MinuteBucket("database", datetime(2026, 11, 2, 12, 2, tzinfo=UTC), 6, 0)]
    assert (recording.failures, recording.written) == (1, 3)


def test_policy_check_validates_a_credit_policy(tmp_path: Path) -> None:
    good = crmdr("policy", "check", "policies/credits.yaml")
    assert good.returncode == 0 and "valid credit policy, 3 plan(s)" in good.stdout
    path = tmp_path / "credits.yaml"
    path.write_text(POLICY.replace("minimum_amount: 1.00\n    cap_percent: 50", "minimum_amount: -1\n    cap_percent: 50"))
    bad = crmdr("policy", "check", str(path))
    assert bad.returncode == 2
    assert f"{path}: line {_line(path, '-1')}: field 'plans.business.minimum_amount'" in bad.stderr


def test_journals_give_declared_spans_that_end_at_the_failovers_first_write(policy: CreditPolicy) -> None:
    def e(runbook: str, step: str, status: str, wall: str, drill: bool = False) -> dict[str, object]:
        return {"runbook": runbook, "step": step, "status": status, "wall": wall, "drill": drill}

    runs = [
        ("watch-1", [e("watch", "probe", "started", "2026-11-03T10:00:00+00:00"),
                     e("watch", "outage", "failed", "2026-11-03T10:00:02+00:00")]),
        ("failover-1", [e("failover", "validate", "succeeded", "2026-11-03T10:03:30+00:00")]),
        ("watch-2", [e("watch", "probe", "started", "2026-11-04T08:00:00+00:00"),
                     e("watch", "outage", "failed", "2026-11-04T08:00:02+00:00")]),  # no failover: ends declared
        ("watch-drill", [e("watch", "probe", "started", "2026-11-05T08:00:00+00:00", True),
                         e("watch", "outage", "failed", "2026-11-05T08:00:02+00:00", True)]),
    ]
    spans = outage_spans(runs, frozenset({"database"}))
    assert [(s.start.isoformat(), s.end.isoformat(), s.source) for s in spans] == [
        ("2026-11-03T10:00:00+00:00", "2026-11-03T10:03:30+00:00", "journal watch-1"),
        ("2026-11-04T08:00:00+00:00", "2026-11-04T08:00:02+00:00", "journal watch-2")]
    # 10:00-10:02 whole, 10:03 covered 30 s (>= 3 s): 4 minutes; 08:00 covered 2 s of 60 (< 5 %): 0
    assert build_ledger(policy, [], [], spans, NOV, AFTER).components["database"].down_minutes == 4


def test_major_incidents_of_the_status_log_are_downtime_drills_and_minor_ones_are_not(policy: CreditPolicy) -> None:
    from outage.review.build import IncidentFacts

    def incident(iid: str, impact: str, start: str, end: str | None, components: tuple[str, ...] = (),
                 drill: bool = False) -> IncidentFacts:
        return IncidentFacts(iid, "t", impact, components, datetime.fromisoformat(start),
                             datetime.fromisoformat(end) if end else None, drill, ())

    incidents = [incident("a", "major", "2026-11-03T10:00:00+00:00", "2026-11-03T10:10:00+00:00", ("web",)),
                 incident("b", "minor", "2026-11-04T10:00:00+00:00", "2026-11-04T12:00:00+00:00"),
                 incident("c", "critical", "2026-11-05T10:00:00+00:00", "2026-11-05T11:00:00+00:00", drill=True),
                 incident("d", "critical", "2026-11-30T23:50:00+00:00", None, ("web app",))]  # still open
    spans = incident_spans(incidents, frozenset(policy.components), AFTER)
    assert [(s.source, sorted(s.components)) for s in spans] == [("incident a", ["web"]),
                                                                ("incident d", ["database", "web"])]
    ledger = build_ledger(policy, [], [], spans, NOV, AFTER)
    # web: 10 minutes of incident a + 10 minutes of d in November (23:50-24:00); database: d only
    assert (ledger.components["web"].down_minutes, ledger.components["database"].down_minutes) == (20, 10)
