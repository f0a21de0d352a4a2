"""The status log in the DR-region bucket (moto): append-only, site published, every subscriber reached."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from outage.adapters.s3_status import S3StatusStore
from outage.adapters.webhook_sender import WebhookSender
from outage.status.service import AutomaticNotices, CadenceReminder, Draft, StatusService
from policies.sla import Tier, load_policy
from recovery.inventory import Inventory
from tests.conftest import make_inventory
from tests.status_helpers import SetClock, webhook_receiver

pytestmark = pytest.mark.adapters

DR = "us-west-2"
TOPIC = f"arn:aws:sns:{DR}:123456789012:customers"
START = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto3.client("s3", region_name=DR).create_bucket(
            Bucket="crm-status", CreateBucketConfiguration={"LocationConstraint": DR})
        boto3.client("sns", region_name=DR).create_topic(Name="customers")
        yield


def status_inventory(**status: object) -> Inventory:
    return make_inventory(status={"url": "https://status.example.com", "bucket": "crm-status", **status})


def service(inventory: Inventory, clock: SetClock, **kwargs: object) -> StatusService:
    return StatusService(inventory, timedelta(minutes=15), clock=clock,
                         sender=WebhookSender(attempts=3, backoff=0.01), **kwargs)  # type: ignore[arg-type]


def keys(prefix: str) -> list[str]:
    answer = boto3.client("s3", region_name=DR).list_objects_v2(Bucket="crm-status", Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", [])]


def test_each_update_is_its_own_object_and_an_existing_one_is_never_overwritten(aws: None) -> None:
    clock = SetClock(START)
    svc = service(status_inventory(), clock)
    opened = svc.open("CRM unavailable", Draft("investigating"))
    clock.advance(minutes=10)
    svc.update(None, Draft("identified", note="The primary database host failed."))
    log_keys = keys("status/log/")
    assert log_keys == [f"status/log/{opened.update.incident}/000001.json",
                        f"status/log/{opened.update.incident}/000002.json"]
    store = S3StatusStore(status_inventory())
    assert store.create(log_keys[0].removeprefix("status/"), b'{"forged": true}') is False
    body = boto3.client("s3", region_name=DR).get_object(Bucket="crm-status", Key=log_keys[0])["Body"].read()
    assert json.loads(body)["state"] == "investigating", "the first update is untouched"
    [incident] = svc.incidents()
    assert [u.state for u in incident.updates] == ["investigating", "identified"]
    assert incident.last.next_update_at == START + timedelta(minutes=25)


def test_a_concurrent_writer_of_the_same_number_makes_the_update_take_the_next(aws: None) -> None:
    clock = SetClock(START)
    svc = service(status_inventory(), clock)
    incident = svc.open("CRM unavailable", Draft("investigating")).update.incident
    # another operator's update lands at seq 2 between our read and our write
    S3StatusStore(status_inventory()).create(f"log/{incident}/000002.json", svc.incidents()[0].last.model_copy(
        update={"seq": 2, "message": "someone else"}).model_dump_json().encode())
    published = svc.update(incident, Draft("identified"))
    assert published.update.seq == 3


def test_page_feed_and_json_are_published_and_drill_goes_elsewhere(aws: None) -> None:
    clock = SetClock(START)
    service(status_inventory(), clock).open("CRM unavailable", Draft("investigating"))
    assert sorted(keys("status/site/")) == ["status/site/api/v2/incidents.json", "status/site/api/v2/summary.json",
                                            "status/site/feed.atom", "status/site/index.html"]
    before = {key: boto3.client("s3", region_name=DR).head_object(Bucket="crm-status", Key=key)["ETag"]
              for key in keys("status/site/")}
    drill = service(status_inventory(topic_arn=TOPIC), clock, drill=True)
    result = drill.open("DRILL: CRM unavailable", Draft("investigating"))
    after = {key: boto3.client("s3", region_name=DR).head_object(Bucket="crm-status", Key=key)["ETag"]
             for key in keys("status/site/")}
    assert after == before, "a drill leaves the public page untouched"
    assert "status/drill/site/index.html" in keys("status/drill/")
    assert [(d.channel, d.outcome) for d in result.deliveries] == [("sns", "withheld")]


def test_every_subscriber_is_reached_or_the_failure_recorded(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-hmac-key")
    with webhook_receiver("s3cr3t-hmac-key", fail_first=1) as good:
        inventory = status_inventory(topic_arn=TOPIC, webhooks=[
            {"url": good.url, "secret": {"env": "HOOK_SECRET"}},
            {"url": "http://127.0.0.1:9/unreachable", "secret": {"env": "HOOK_SECRET"}},
        ])
        svc = service(inventory, SetClock(START))
        result = svc.open("CRM unavailable", Draft("investigating"))
    outcomes = sorted((d.channel, d.target, d.outcome, d.attempts) for d in result.deliveries)
    assert outcomes == [("sns", TOPIC, "delivered", 1),
                        ("webhook", good.url.split("?")[0], "delivered", 2),
                        ("webhook", "http://127.0.0.1:9/unreachable", "failed", 3)]
    assert [p.problem for p in good.posts] == [None, None], "both attempts carried a valid HMAC"
    posted = json.loads(good.posts[-1].body)
    assert posted["incident"]["incident_updates"][0]["status"] == "investigating"
    recorded = svc.deliveries(result.update.incident)
    assert sorted(d.outcome for d in recorded) == ["delivered", "delivered", "failed"]
    stored = b"".join(S3StatusStore(inventory).read_all("deliveries/"))
    assert b"do-not-log" not in stored and b"s3cr3t" not in stored, "no token or secret in the delivery log"


def test_an_overdue_update_is_itself_recorded_once(aws: None) -> None:
    clock = SetClock(START)
    svc = service(status_inventory(), clock)
    svc.open("CRM unavailable", Draft("investigating"))
    clock.advance(minutes=14)
    assert [v.overdue for v in svc.due()] == [False]
    clock.advance(minutes=2)
    [verdict] = svc.due()
    assert verdict.overdue_since == START + timedelta(minutes=15)
    svc.due()
    [incident] = svc.incidents()
    assert [n.promised_at for n in incident.overdue] == [START + timedelta(minutes=15)]


def gold(**changes: object) -> Tier:
    return load_policy().tier("gold").model_copy(update=changes)


def test_automatic_notices_open_investigating_then_monitoring_and_record_the_timing(aws: None) -> None:
    notices = AutomaticNotices(status_inventory(topic_arn=TOPIC), "gold", gold())
    first_failure = datetime.now(UTC) - timedelta(seconds=2)
    declared = first_failure + timedelta(seconds=1)
    notices.outage_declared(first_failure, declared)
    notices.service_back(declared + timedelta(seconds=3))
    notices.wait()
    assert notices.errors == []
    assert [p.update.state for p in notices.published] == ["investigating", "monitoring"]
    opened, back = (p.update for p in notices.published)
    assert opened.started_at == first_failure and opened.source == "watch"
    assert "available again since" in back.message and back.source == "failover"
    record = notices.record()
    assert record["sent_to_customers"] is True and record["drill"] is False
    assert 0 <= float(record["first_notice_seconds"]) < 10  # type: ignore[arg-type]
    assert [u["channels"] for u in record["updates"]] == [["page", "sns"], ["page", "sns"]]  # type: ignore[index]


def test_automatic_notices_join_an_open_incident_and_respect_the_tier(aws: None) -> None:
    service(status_inventory(), SetClock(START)).open("Opened by a person", Draft("investigating"))
    joined = AutomaticNotices(status_inventory(), "gold", gold())
    joined.outage_declared(START, START)
    joined.wait()
    assert joined.published == [], "a person's open incident is not opened twice"
    off = AutomaticNotices(status_inventory(), "gold", gold(automatic_status_notice=False))
    assert off.limitation == "tier 'gold' sets automatic_status_notice: false: a person posts the first update"
    off.outage_declared(START, START)
    off.wait()
    assert off.published == [] and off.record()["automatic"] is False


def test_a_drills_notices_stay_off_the_public_page(aws: None, tmp_path: Path) -> None:
    notices = AutomaticNotices(status_inventory(topic_arn=TOPIC), "gold", gold(), drill=True)
    now = datetime.now(UTC)
    notices.outage_declared(now, now)
    notices.wait()
    assert keys("status/site/") == [] and keys("status/log/") == []
    assert "status/drill/site/index.html" in keys("status/drill/")
    record = notices.record(journal_dir=tmp_path)
    assert record["sent_to_customers"] is False
    assert [d["outcome"] for d in record["updates"][0]["deliveries"]] == ["withheld"]
    assert [step["id"] for step in record["checklist"]][:2] == ["incident-lead", "first-update"]


class Told:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.messages.append((subject, message))


def test_operators_are_reminded_before_the_update_is_due_and_when_overdue_once_each(aws: None) -> None:
    clock = SetClock(START)
    svc = service(status_inventory(), clock)
    svc.open("CRM unavailable", Draft("investigating"))
    told = Told()
    reminder = CadenceReminder(svc, told, every=0)
    clock.advance(minutes=9)  # due 07:15, reminder lead 3 min (a fifth of 15)
    assert reminder.tick() == []
    clock.advance(minutes=3)
    assert reminder.tick() == [f"incident {svc.incidents()[0].id}: the next update is due at 2026-12-02T07:15:00Z (soon)"]
    assert reminder.tick() == [], "once per promise"
    clock.advance(minutes=4)
    [late] = reminder.tick()
    assert "overdue since 2026-12-02T07:15:00Z" in late
    assert [subject.split(":")[0] for subject, _ in told.messages] == ["customer update due", "customer update overdue"]
