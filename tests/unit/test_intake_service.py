"""The intake's composition with in-memory ports: a crash between the CRM's commit and the
store's update is reported as "already entered", nothing is dropped, paper imports are
all-or-nothing and idempotent."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from outage.intake.model import FieldError, IntakeRequest, RequestRecord
from outage.intake.notices import Acknowledgement
from outage.intake.replay import Contact, CrmSnapshot, Entry
from outage.intake.service import IntakeService
from policies.errors import ConfigError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BODY: dict[str, object] = {"name": "Ada", "email": "ada@example.com", "request_type": "case",
                           "priority": "normal", "description": "help", "consent": True}


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, tuple[RequestRecord, IntakeRequest]] = {}

    def put(self, request: IntakeRequest) -> bool:
        if request.request_id in self.items:
            return False
        record = RequestRecord(request_id=request.request_id, reference=request.reference, channel=request.channel,
                               language=request.language, submitted_at=request.submitted_at,
                               request_type=request.fields.request_type, priority=request.fields.priority,
                               state="stored")
        self.items[request.request_id] = (record, request)
        return True

    def records(self) -> list[RequestRecord]:
        return [record for record, _ in self.items.values()]

    def requests(self, states: frozenset[str]) -> list[tuple[RequestRecord, IntakeRequest]]:
        return [pair for pair in self.items.values() if pair[0].state in states]

    def _set(self, request_id: str, allowed: tuple[str, ...], **changes: object) -> bool:
        record, request = self.items[request_id]
        if record.state not in allowed:
            return False
        self.items[request_id] = (record.model_copy(update=changes), request)
        return True

    def mark_entered(self, request_id: str, case_id: int, now: datetime) -> bool:
        return self._set(request_id, ("stored", "review"), state="entered", case_id=case_id, entered_at=now)

    def mark_review(self, request_id: str, reason: str) -> bool:
        return self._set(request_id, ("stored", "review"), state="review", review_reason=reason)

    def mark_acknowledged(self, request_id: str, now: datetime) -> bool:
        return self._set(request_id, ("entered",), state="acknowledged", acknowledged_at=now)

    def purge(self, request_id: str, now: datetime) -> bool:
        return self._set(request_id, ("entered", "acknowledged"), state="purged", purged_at=now)


class MemoryCrm:
    def __init__(self) -> None:
        self.cases: dict[str, int] = {}

    def snapshot(self, request_ids: Sequence[str], account_ids: Sequence[int], emails: Sequence[str]) -> CrmSnapshot:
        return CrmSnapshot(frozenset({1}), {"ada@example.com": Contact(10, 1)}, {1: 10},
                           {rid: case for rid, case in self.cases.items() if rid in request_ids})

    def enter(self, entry: Entry) -> tuple[int, bool]:
        if entry.request_id in self.cases:
            return self.cases[entry.request_id], False
        self.cases[entry.request_id] = 100 + len(self.cases)
        return self.cases[entry.request_id], True


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Acknowledgement] = []

    def acknowledge(self, ack: Acknowledgement) -> str:
        self.sent.append(ack)
        return "memory"


def service(store: MemoryStore) -> IntakeService:
    tokens = iter(f"token-{i:04d}" for i in range(1000))
    return IntakeService(store, clock=lambda: NOW, new_token=lambda: next(tokens))


def test_a_retry_with_the_same_token_is_one_request() -> None:
    store = MemoryStore()
    intake = service(store)
    first = intake.submit(dict(BODY), channel="api", language="en", token="same-token-1")
    assert first == intake.submit(dict(BODY), channel="api", language="en", token="same-token-1")
    assert intake.submit(dict(BODY), channel="api", language="en", token=None) != first
    assert len(store.items) == 2
    bad = intake.submit(dict(BODY), channel="api", language="en", token="x")
    assert isinstance(bad, list) and isinstance(bad[0], FieldError) and bad[0].field == "client_token"


def test_a_crash_after_the_crm_commit_is_already_entered_on_the_next_run() -> None:
    store, crm, outbox = MemoryStore(), MemoryCrm(), Outbox()
    intake = service(store)
    ref = intake.submit(dict(BODY), channel="web", language="de", token="crash-token-1")
    [request_id] = store.items
    crm.cases[request_id] = 555  # committed in the CRM, then the replay was killed
    outcome = intake.replay(crm, outbox)
    assert outcome.entered == [] and outcome.already_entered[0]["case_id"] == 555
    assert store.items[request_id][0].state == "acknowledged" and store.items[request_id][0].case_id == 555
    assert [(a.reference, a.case_id, a.language) for a in outbox.sent] == [(ref, 555, "de")]
    assert intake.replay(crm, outbox).already_entered == [], "a finished request is not replayed again"
    assert crm.cases == {request_id: 555}


def test_unmatched_requests_stay_on_the_review_list_until_they_match() -> None:
    store, crm, outbox = MemoryStore(), MemoryCrm(), Outbox()
    intake = service(store)
    intake.submit({**BODY, "email": "stranger@example.org"}, channel="api", language="en", token="review-0001")
    intake.submit(dict(BODY), channel="api", language="en", token="match-0001")
    outcome = intake.replay(crm, outbox)
    assert len(outcome.entered) == 1 and len(outcome.review) == 1
    again = intake.replay(crm, outbox)
    assert [r["reference"] for r in again.review] == [r["reference"] for r in outcome.review]
    assert {record.state for record in store.records()} == {"acknowledged", "review"}


def test_only_limits_a_replay_to_the_given_requests() -> None:
    store, crm = MemoryStore(), MemoryCrm()
    intake = service(store)
    intake.submit(dict(BODY), channel="api", language="en", token="mine-0001")
    intake.submit(dict(BODY), channel="api", language="en", token="theirs-001")
    mine = next(rid for rid, (_, req) in store.items.items() if req.reference ==
                intake.submit(dict(BODY), channel="api", language="en", token="mine-0001"))
    outcome = intake.replay(crm, Outbox(), only=frozenset({mine}))
    assert [e["request_id"] for e in outcome.entered] == [mine] and list(crm.cases) == [mine]


def test_paper_import_is_all_or_nothing_and_idempotent(tmp_path: Path) -> None:
    store = MemoryStore()
    intake = service(store)
    header = "name,email,request_type,priority,description,consent\n"
    good = tmp_path / "good.csv"
    good.write_text(header + "Ada,ada@example.com,case,high,x,ja\nBob,bob@example.com,order,low,y,ja\n")
    first = intake.import_paper(good)
    assert [e["line"] for e in first.stored] == [2, 3]
    assert intake.import_paper(good).already_stored == first.stored
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "Cy,cy@example.com,case,high,x,ja\nDee,dee@example.com,case,panic,x,ja\n")
    with pytest.raises(ConfigError, match="line 3, column 'priority'"):
        intake.import_paper(bad)
    assert len(store.items) == 2, "nothing of the bad file was stored"
    with pytest.raises(ConfigError, match="cannot read it"):
        intake.import_paper(tmp_path / "missing.csv")


def test_the_intake_must_live_in_the_dr_region() -> None:
    from outage.intake.service import intake_settings
    from tests.conftest import make_inventory

    assert intake_settings(make_inventory(intake={"url": "https://x", "region": "us-west-2"})).table == "crmdr-intake"
    with pytest.raises(ConfigError, match=r"'intake\.region' is 'us-east-1'; expected the DR region 'us-west-2'"):
        intake_settings(make_inventory(intake={"url": "https://x", "region": "us-east-1"}))
    with pytest.raises(ConfigError, match="field 'intake' is missing"):
        intake_settings(make_inventory())
