"""Pure parts of the status side: honest templates (en/de), the cadence, the log's fold, the shapes."""

import json
import re
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from pydantic import ValidationError

from outage.status.cadence import due, promises, reminder_lead
from outage.status.messages import DataLoss, Facts, draft
from outage.status.model import STATES, Incident, OverdueNote, Update, fold, in_history, parse_entry, transition_problem
from outage.status.render import site_files
from outage.status.subscribers import sign, signature_problem
from recovery.inventory import StatusPage

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
CADENCE = timedelta(minutes=30)
PAGE = StatusPage(url="https://status.example.com")
TIMES = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
APOLOGY = {"en": "sorry", "de": "entschuldigen"}
UNKNOWN = {"en": "What we do not know yet", "de": "Was wir noch nicht wissen"}
NO_LOSS = {"en": "No acknowledged data was lost", "de": "keine bestätigten Daten verloren"}


def update(seq: int, state: str, at: datetime, *, incident: str = "i1", cadence: timedelta = CADENCE,
           components: tuple[str, ...] = ("web-app",), impact: str = "major") -> Update:
    return Update.model_validate({
        "incident": incident, "seq": seq, "title": "CRM unavailable", "state": state, "impact": impact,
        "components": components, "at": at, "next_update_at": None if state == "resolved" else at + cadence,
        "message": f"{state} at {at:%H:%M}"})


def facts(state: str, **given: object) -> Facts:
    base: dict[str, object] = {"at": T0 + timedelta(minutes=12), "components": ("Web app", "API"),
                               "started_at": T0, "next_update_at": T0 + timedelta(minutes=42)}
    return Facts(state, **{**base, **given})  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("state", STATES)
def test_every_message_carries_its_time_an_apology_and_no_fix_time_unless_given(language: str, state: str) -> None:
    text = draft(facts(state, service_back_at=T0 + timedelta(minutes=3)), language)
    assert text.startswith("2026-12-02 07:12 UTC: ")
    assert APOLOGY[language] in text
    allowed = {"2026-12-02 07:12 UTC", "2026-12-02 07:00 UTC", "2026-12-02 07:03 UTC", "2026-12-02 07:42 UTC"}
    assert set(TIMES.findall(text)) <= allowed, "no time appears that nobody gave or measured"
    fixed = draft(facts(state, fix_time=T0 + timedelta(hours=2)), language)
    if state in ("investigating", "identified"):
        assert "2026-12-02 09:00 UTC" in fixed and "2026-12-02 09:00 UTC" not in text
        assert UNKNOWN[language] in text


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("state", ["investigating", "identified"])
def test_while_the_cause_is_open_the_message_says_what_is_not_known(language: str, state: str) -> None:
    text = draft(facts(state), language)
    assert UNKNOWN[language] in text
    assert ("when service will be back" if language == "en" else "wann der Dienst wieder verfügbar ist") in text


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(("loss", "says_none_lost"),
                         [(None, False), (DataLoss(3, "failover run f-1"), False), (DataLoss(0, "failover run f-1"), True)])
def test_no_data_lost_only_when_a_measurement_counted_exactly_zero(language: str, loss: DataLoss | None,
                                                                   says_none_lost: bool) -> None:
    for state in ("monitoring", "resolved"):
        text = draft(facts(state, service_back_at=T0 + timedelta(minutes=3), data_loss=loss), language)
        assert (NO_LOSS[language] in text) is says_none_lost
        assert ("failover run f-1" in text) is says_none_lost


def test_monitoring_says_when_service_came_back_and_how_long_it_was_down() -> None:
    text = draft(facts("monitoring", service_back_at=T0 + timedelta(minutes=3, seconds=20)), "en")
    assert "available again since 2026-12-02 07:03 UTC, after 3 min of disruption" in text
    assert "nach 3 Min. Störung" in draft(facts("monitoring", service_back_at=T0 + timedelta(minutes=3)), "de")


def test_the_operators_note_is_what_is_known() -> None:
    text = draft(facts("investigating", note="The primary database host stopped."), "en")
    assert "What we know: The primary database host stopped." in text


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a language"):
        draft(facts("investigating"), "fr")


def test_due_and_overdue_by_hand_worked_times() -> None:
    [incident] = fold([update(1, "investigating", T0), update(2, "identified", T0 + timedelta(minutes=20))])
    # last update 07:20, cadence 30 min: due 07:50; reminder lead min(6 min, 5 min) = 5 min
    assert reminder_lead(CADENCE) == timedelta(minutes=5)
    at_0744 = due(incident, T0 + timedelta(minutes=44), CADENCE)
    assert (at_0744.due_at, at_0744.overdue, at_0744.remind) == (T0 + timedelta(minutes=50), False, False)
    assert due(incident, T0 + timedelta(minutes=45), CADENCE).remind is True
    assert due(incident, T0 + timedelta(minutes=50), CADENCE).overdue is False, "due at 07:50 is not yet late"
    late = due(incident, T0 + timedelta(minutes=50, seconds=1), CADENCE)
    assert late.overdue_since == T0 + timedelta(minutes=50)
    assert "overdue since 2026-12-02T07:50:00Z" in late.reason()
    assert due(incident, T0 + timedelta(minutes=50, seconds=1), CADENCE).already_noted is False


def test_a_short_cadence_reminds_a_fifth_ahead_and_resolved_is_never_due() -> None:
    assert reminder_lead(timedelta(minutes=10)) == timedelta(minutes=2)
    [resolved] = fold([update(1, "investigating", T0), update(2, "resolved", T0 + timedelta(minutes=5))])
    verdict = due(resolved, T0 + timedelta(days=1), CADENCE)
    assert (verdict.due_at, verdict.overdue) == (None, False)


def test_promises_kept_and_missed() -> None:
    [incident] = fold([update(1, "investigating", T0), update(2, "identified", T0 + timedelta(minutes=25)),
                       update(3, "monitoring", T0 + timedelta(minutes=70))])
    records = promises(incident, T0 + timedelta(minutes=71))
    # 07:00 promised 07:30 (kept at 07:25); 07:25 promised 07:55 (came 08:10: 15 min late); 08:10 -> 08:40 pending
    assert [(r.promised_at.strftime("%H:%M"), r.kept_at is not None, r.late_by) for r in records] == [
        ("07:30", True, None), ("07:55", False, timedelta(minutes=15))]


def test_the_log_folds_in_order_whatever_order_objects_are_read() -> None:
    entries = [update(3, "monitoring", T0 + timedelta(minutes=9)), update(1, "investigating", T0),
               OverdueNote(incident="i1", seq=2, promised_at=T0 + timedelta(minutes=5), noticed_at=T0),
               update(1, "investigating", T0 - timedelta(days=1), incident="i0")]
    incidents = fold(entries)
    assert [i.id for i in incidents] == ["i1", "i0"], "newest first"
    assert [u.seq for u in incidents[0].updates] == [1, 3] and incidents[0].next_seq == 4
    assert parse_entry(entries[2].model_dump_json().encode()) == entries[2]


def test_times_must_be_utc_and_resolved_is_final() -> None:
    with pytest.raises(ValidationError, match="UTC"):
        update(1, "investigating", datetime(2026, 12, 2, 7, 0))
    [incident] = fold([update(1, "investigating", T0), update(2, "resolved", T0)])
    assert transition_problem(incident, "monitoring") == "incident i1 is resolved; open a new incident instead"
    assert transition_problem(None, "monitoring") is not None


def test_history_keeps_90_days() -> None:
    [old] = fold([update(1, "investigating", T0), update(2, "resolved", T0 + timedelta(hours=1))])
    assert in_history(old, T0 + timedelta(days=90))
    assert not in_history(old, T0 + timedelta(days=91))


def two_incidents() -> list[Incident]:
    return fold([update(1, "investigating", T0), update(2, "identified", T0 + timedelta(minutes=20)),
                 update(1, "investigating", T0 - timedelta(days=3), incident="old", components=("api",),
                        impact="minor"),
                 update(2, "resolved", T0 - timedelta(days=3) + timedelta(hours=1), incident="old")])


def test_statuspage_shapes() -> None:
    files = site_files(PAGE, two_incidents(), T0 + timedelta(minutes=21))
    summary = json.loads(files["api/v2/summary.json"][0])
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert {c["id"]: c["status"] for c in summary["components"]} == {
        "web-app": "partial_outage", "api": "operational", "email-intake": "operational"}
    [current] = summary["incidents"]
    assert current["status"] == "identified" and current["impact"] == "major"
    assert [u["status"] for u in current["incident_updates"]] == ["identified", "investigating"]
    assert current["incident_updates"][0]["created_at"] == "2026-12-02T07:20:00.000Z"
    listed = json.loads(files["api/v2/incidents.json"][0])
    assert [i["id"] for i in listed["incidents"]] == ["i1", "old"]
    assert listed["incidents"][1]["resolved_at"] == "2026-11-29T08:00:00.000Z"


def test_feed_has_every_update_newest_first_with_its_time() -> None:
    feed = feedparser.parse(site_files(PAGE, two_incidents(), T0 + timedelta(minutes=21))["feed.atom"][0])
    assert not feed.bozo, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == ["[Identified] CRM unavailable", "[Investigating] CRM unavailable",
                                               "[Resolved] CRM unavailable", "[Investigating] CRM unavailable"]
    assert feed.entries[0].updated == "2026-12-02T07:20:00+00:00"
    assert feed.feed.links[1].href == "https://status.example.com/feed.atom"


def test_page_shows_state_updates_times_next_due_and_history_in_german() -> None:
    page = StatusPage(url="https://status.example.com", language="de")
    html = site_files(page, two_incidents(), T0 + timedelta(minutes=21))["index.html"][0].decode()
    assert '<html lang="de">' in html and "Teilweiser Ausfall" in html
    assert 'Nächste Meldung bis <time datetime="2026-12-02T07:50:00.000Z">2026-12-02 07:50 UTC</time>' in html
    assert html.index("update-i1-2") < html.index("update-i1-1"), "newest update first"
    assert "Letzte 90 Tage" in html and "incident-old" in html
    assert "<script" not in html


def test_page_escapes_what_people_typed() -> None:
    hostile = update(1, "investigating", T0).model_copy(update={"message": "<script>alert(1)</script>"})
    html = site_files(PAGE, fold([hostile]), T0)["index.html"][0].decode()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_webhook_signature_round_trip_and_refusals() -> None:
    body = b'{"x": 1}'
    signature = sign("key", 1_700_000_000, body)
    assert signature_problem("key", "1700000000", signature, body, now=1_700_000_010) is None
    assert "does not match" in str(signature_problem("key", "1700000000", signature, b'{"x": 2}', 1_700_000_010))
    assert "replay" in str(signature_problem("key", "1700000000", signature, body, now=1_700_001_000))
    assert "does not match" in str(signature_problem("other", "1700000000", signature, body, 1_700_000_010))


def test_the_lab_server_maps_urls_to_site_objects_like_an_s3_website() -> None:
    from drills.lab.status_server import site_path

    assert site_path("/") == "index.html"
    assert site_path("/api/v2/summary.json?x=1") == "api/v2/summary.json"
    assert site_path("/feed.atom#top") == "feed.atom"
    assert site_path("/drill/") == "drill/index.html"
    assert site_path("/../log/x.json") is None


def test_service_is_back_when_the_failovers_validation_ended() -> None:
    from outage.status.automatic import service_back_time

    phases = {"promote": {"start": "2026-12-02T07:00:01+00:00", "end": "2026-12-02T07:00:02+00:00"},
              "validate": {"start": "2026-12-02T07:00:02.5+00:00", "end": "2026-12-02T07:00:02.700+00:00"}}
    assert service_back_time(phases) == datetime(2026, 12, 2, 7, 0, 2, 700000, tzinfo=UTC)
    assert service_back_time({"promote": phases["promote"]}) is None
