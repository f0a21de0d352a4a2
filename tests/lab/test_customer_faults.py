"""The customer side under real faults on namespaced hosts (issue 18, item 4).

The lab's topology (drills/lab/topology.py, network.py): the CRM is the PostgreSQL primary (primary
region); the intake service and the status page each run on a host of their own and store in the
DR region's stand-in (the `aws` host). Customers submit through the real HTTP endpoint from the
root namespace; faults are `kill -9` of the service and `crmdr lab cut primary`.

The intake's per-client rate limit is lifted for these runs (every simulated customer sends from
the lab's one operator address), as benchmarks/intake.py does.
"""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from drills.lab import intake_server
from drills.lab.settings import LabPaths
from outage.intake.model import reference_for, request_id_for
from outage.intake.service import store_for
from outage.status.automatic import FIRST_NOTICE_WITHIN
from recovery.adapters.postgres import connect
from tests.conftest import ROOT
from tests.lab.conftest import Lab, needs_netns
from tests.lab.runbook_helpers import pg_ctl, report, result, roles, run
from tests.lab.test_faults_netns import lab_cut, wait_for
from tests.lab.test_intake import api_request, cases_for, listed, replay
from tests.lab.test_status_watch import PagePoller
from tests.lab.test_watch import AUTO_POLICY

pytestmark = [pytest.mark.lab, pytest.mark.slow, needs_netns]

CUSTOMERS = 6
KILLS = 6


@dataclass
class Ledger:
    """What the customers saw, per client token: acknowledged (reference, when) and failed attempts."""

    acked: dict[str, tuple[str, float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    abandoned: list[str] = field(default_factory=list)  # never acknowledged within 30 s of the stop
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked_after(self, moment: float) -> int:
        with self.lock:
            return sum(1 for _, at in self.acked.values() if at >= moment)


class Customers:
    """CUSTOMERS threads submitting through POST /api/requests; each retries a failed or unanswered
    attempt with the same client token until it is acknowledged (201), then moves to a new one."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name, self.ledger = url, name, Ledger()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CUSTOMERS)]

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=3) as http:
            number = 0
            while not self._stop.is_set():
                token = f"{self.name}-{index}-{number:06d}"
                self._until_acked(http, token)
                number += 1

    def _until_acked(self, http: httpx.Client, token: str) -> None:
        give_up = None
        while give_up is None or time.monotonic() < give_up:
            try:
                answer = http.post(f"{self.url}/api/requests", json=api_request(client_token=token))
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 201:
                with self.ledger.lock:
                    self.ledger.acked[token] = (answer.json()["reference"], time.monotonic())
                return
            with self.ledger.lock:
                self.ledger.failed[token] = self.ledger.failed.get(token, 0) + 1
            if self._stop.is_set() and give_up is None:
                give_up = time.monotonic() + 30
            time.sleep(0.05)
        with self.ledger.lock:
            self.ledger.abandoned.append(token)

    def __enter__(self) -> "Customers":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *args: object) -> None:
        """Each customer finishes the request in hand (acknowledged) before stopping; one that could
        not, or is still trying, fails the test."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        if kind is None:
            still = [thread.name for thread in self._threads if thread.is_alive()]
            assert not still and not self.ledger.abandoned, (
                f"customers still trying: {still}; requests never acknowledged: {self.ledger.abandoned}")


@pytest.fixture
def unlimited(fresh_lab: Lab) -> Iterator[Lab]:
    """The lab's intake restarted without its per-address rate limit (all customers share one address)."""
    paths = LabPaths(fresh_lab.dir)
    intake_server.stop(paths, fresh_lab.settings)
    intake_server.start(paths, fresh_lab.settings, rate_per_minute=10**7)
    yield fresh_lab


def stored_ids(lab: Lab) -> set[str]:
    """Request ids in the DR region's table, read straight from DynamoDB (consistent scan)."""
    return {record.request_id for record in store_for(lab.inventory).records()}


def check_stored_once(lab: Lab, ledger: Ledger) -> dict[str, Any]:
    """Every acknowledged request is in the table once with the reference its customer got; nothing else."""
    acked_ids = {request_id_for(token): reference for token, (reference, _) in ledger.acked.items()}
    assert all(reference == reference_for(rid) for rid, reference in acked_ids.items()), "a reference changed"
    records = store_for(lab.inventory).records()
    ids = [record.request_id for record in records]
    assert len(ids) == len(set(ids))
    lost = set(acked_ids) - set(ids)
    extra = set(ids) - set(acked_ids)
    assert not lost, f"{len(lost)} acknowledged request(s) missing from the store"
    assert not extra, f"{len(extra)} stored request(s) no customer was acknowledged for"
    return {"acknowledged": len(acked_ids), "lost": len(lost), "stored": len(ids)}


def replay_exactly_once(lab: Lab, ledger: Ledger, tmp: Path, host: str | None = None) -> dict[str, int]:
    """`crmdr intake replay`, then once more: each acknowledged request is one case (on `host`, default
    the primary), the second enters none."""
    done = replay(lab, tmp)
    assert done.returncode == 0, done.stderr
    ids = [request_id_for(token) for token in ledger.acked]
    cases = cases_for(lab, ids, host)
    doubled = sum(1 for case_ids in cases.values() if len(case_ids) > 1)
    assert set(cases) == set(ids), f"{len(set(ids) - set(cases))} acknowledged request(s) not in the CRM"
    assert doubled == 0, f"{doubled} request(s) entered twice"
    again = replay(lab, tmp)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["entered"] == [], "a second replay entered something again"
    assert cases_for(lab, ids, host) == cases
    states = {r["request_id"]: r["state"] for r in listed(lab).values()}
    assert {states[i] for i in ids} == {"acknowledged"}
    return {"in_crm": len(cases), "doubled": doubled}


def settled(lab: Lab, ledger: Ledger, tmp: Path, **figures: Any) -> dict[str, Any]:
    """After the customers stopped: stored once (check_stored_once), `figures`, the failed attempts, and
    replay into the CRM exactly once (replay_exactly_once)."""
    return {**check_stored_once(lab, ledger), **figures, "failed_attempts": sum(ledger.failed.values()),
            **replay_exactly_once(lab, ledger, tmp)}


def cut_while_submitting(lab: Lab, name: str, before: int, during: int) -> tuple[Ledger, float]:
    """Customers submit; after `before` acknowledgements the primary region is cut, after `during` more
    the customers stop (each finishing its request). Their ledger and the cut's monotonic time; the
    caller heals."""
    with Customers(lab.inventory.intake.url, name) as customers:  # type: ignore[union-attr]
        ledger = customers.ledger
        wait_for(f"{before} acknowledged before the cut", lambda: len(ledger.acked) >= before)
        lab_cut(lab, "cut", "primary")
        cut_at = time.monotonic()
        wait_for(f"{during} acknowledged during the cut", lambda: ledger.acked_after(cut_at) >= during)
    return ledger, cut_at


def test_intake_killed_nine_while_customers_submit_loses_and_doubles_nothing(
        unlimited: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN customers submitting concurrently, WHEN the intake service is SIGKILLed (and restarted),
    again until one kill lands between a request's store and its answer, THEN every acknowledged
    request is stored once, the retry of a stored-but-unanswered one gets the same reference and
    no second item, and replay enters each into the CRM exactly once."""
    paths, url = LabPaths(unlimited.dir), unlimited.inventory.intake.url  # type: ignore[union-attr]
    stored_unanswered: set[str] = set()
    kills = 0
    with Customers(url, "kill") as customers:
        ledger = customers.ledger
        while kills < KILLS and not stored_unanswered:
            before = len(ledger.acked)
            wait_for("50 more acknowledged", lambda n=before: len(ledger.acked) >= n + 50)  # type: ignore[misc]
            assert intake_server.kill(paths) is not None
            killed_at, kills = time.monotonic(), kills + 1
            time.sleep(0.3)  # the customers' attempts in flight fail now
            at_kill = stored_ids(unlimited)
            with ledger.lock:  # stored, yet the customer saw its attempt fail: the ack never arrived
                stored_unanswered |= {t for t in ledger.failed if t not in ledger.acked
                                      and request_id_for(t) in at_kill}
            intake_server.start(paths, unlimited.settings, rate_per_minute=10**7)
        restarted = time.monotonic()
        wait_for("acknowledgements after the last restart", lambda: ledger.acked_after(restarted) >= 20)
    with ledger.lock:
        outage = min(at for _, at in ledger.acked.values() if at >= killed_at) - killed_at
    assert stored_unanswered, f"no kill of {kills} landed between a store and its answer (property not exercised)"
    assert stored_unanswered <= set(ledger.acked), "a retried stored request was not acknowledged"
    figures = settled(unlimited, ledger, tmp_path, kills=kills, retried_after_unseen_ack=len(stored_unanswered),
                      seconds_kill_to_next_ack=round(outage, 2))
    report(record_property, "intake kill -9 under load", figures)


def test_primary_region_cut_while_customers_submit_keeps_taking_requests_and_replays_each_once(
        unlimited: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN customers submitting, WHEN the primary region (the CRM's host) is cut off, THEN the intake
    (DR region) keeps acknowledging without one failed attempt, a replay during the cut fails saying
    why and enters nothing, and after the heal replay enters each acknowledged request exactly once."""
    try:
        ledger, cut_at = cut_while_submitting(unlimited, "cut", 30, 60)
        acked_during_cut = ledger.acked_after(cut_at)
        began = time.monotonic()
        during = replay(unlimited, tmp_path)
        replay_refused_s = time.monotonic() - began
    finally:
        lab_cut(unlimited, "heal")
    assert during.returncode == 1 and "Traceback" not in during.stderr, during.stderr
    assert f"cannot connect to PostgreSQL on {unlimited.settings.primary_ip}" in during.stderr, during.stderr
    assert {r["state"] for r in listed(unlimited).values()} == {"stored"}, "a replay during the cut changed states"
    assert ledger.failed == {}, f"customers saw failed attempts during the cut: {len(ledger.failed)}"
    figures = settled(unlimited, ledger, tmp_path, acknowledged_during_cut=acked_during_cut,
                      seconds_replay_refused=round(replay_refused_s, 1))
    report(record_property, "primary region cut under intake load", figures)


def test_primary_region_cut_the_watch_publishes_investigating_on_the_public_page(
        fresh_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN `crmdr watch` (no failover) and a customer refreshing the public page (status host, DR
    bucket), WHEN the primary region is cut off, THEN the watch declares the outage and the page's
    summary.json and Atom feed carry a timestamped "investigating" update within FIRST_NOTICE_WITHIN
    of the declaration; the time from the cut is measured."""
    policy = tmp_path / "auto.yaml"
    policy.write_text(AUTO_POLICY)
    assert fresh_lab.inventory.status is not None
    base = fresh_lab.inventory.status.url
    command = [sys.executable, "-m", "crmdr", "watch", "--json", "--inventory", str(fresh_lab.inventory_path),
               "--policy", str(policy), "--journal-dir", str(tmp_path / "runs")]
    with PagePoller(base) as page:
        watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert watcher.stdout is not None
            assert json.loads(watcher.stdout.readline())["status"] == "healthy"
            lab_cut(fresh_lab, "cut", "primary")
            cut_at = time.time()
            verdicts = [json.loads(watcher.stdout.readline()) for _ in range(3)]
            wait_for("'investigating' on the public page", lambda: "investigating" in page.seen, 30)
        finally:
            watcher.terminate()
            watcher.wait(15)
            lab_cut(fresh_lab, "heal")
    assert [v["status"] for v in verdicts] == ["suspect", "suspect", "outage"], verdicts
    declared = datetime.fromisoformat(str(verdicts[-1]["at"])).timestamp()
    first_notice, from_cut = page.seen["investigating"] - declared, page.seen["investigating"] - cut_at
    assert 0 <= first_notice < FIRST_NOTICE_WITHIN, (first_notice, page.seen)
    [incident] = httpx.get(f"{base}/api/v2/summary.json", timeout=5).json()["incidents"]
    [update] = incident["incident_updates"]
    assert update["status"] == "investigating" and incident["status"] == "investigating"
    created = datetime.fromisoformat(update["created_at"]).timestamp()
    assert cut_at <= created <= page.seen["investigating"], (cut_at, update["created_at"])
    feed = feedparser.parse(httpx.get(f"{base}/feed.atom", timeout=5).content)
    assert feed.entries[0].title.startswith("[Investigating")
    assert datetime.fromisoformat(feed.entries[0].updated) == datetime.fromisoformat(update["created_at"])
    figures = {"seconds_cut_to_declared": round(declared - cut_at, 2),
               "seconds_declared_to_page": round(first_notice, 2), "seconds_cut_to_page": round(from_cut, 2)}
    report(record_property, "primary region cut -> public status update", figures)


def test_primary_region_cut_then_failover_replays_into_the_promoted_standby_exactly_once(
        unlimited: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN requests acknowledged while the primary region is cut off, WHEN the SRE fails over to the
    standby (the primary region still cut), THEN replay enters each into the CRM on the promoted
    standby exactly once, and after the heal a replay enters none again (the fenced old primary is
    never written). (It found `crm_for` stopping at the unreachable primary: no replay until the
    primary region came back.)"""
    standby = str(unlimited.settings.standby_ip)
    try:
        ledger, cut_at = cut_while_submitting(unlimited, "failover", 20, 40)
        failed_over = result(run(unlimited, "failover", tmp_path / "runs", "--yes", "--accept-data-loss", "--json"))
        assert failed_over["primary"] == "standby"
        figures = {**check_stored_once(unlimited, ledger), "acknowledged_during_cut": ledger.acked_after(cut_at),
                   **replay_exactly_once(unlimited, ledger, tmp_path, standby)}
    finally:
        lab_cut(unlimited, "heal")
    assert roles(unlimited)["standby"] == "primary"
    again = replay(unlimited, tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["entered"] == [], "after the heal a replay entered requests again"
    report(record_property, "primary region cut, failover, replay into the standby", figures)


def test_two_writable_nodes_the_replay_refuses_and_enters_nothing(fresh_lab: Lab, tmp_path: Path) -> None:
    """GIVEN a stored request, WHEN the standby is promoted behind the running primary's back (a split
    brain), THEN `crmdr intake replay` refuses (exit 3) naming both nodes, and no request changes state."""
    url = fresh_lab.inventory.intake.url  # type: ignore[union-attr]
    answer = httpx.post(f"{url}/api/requests", json=api_request(client_token="split-brain-0001"), timeout=10)
    assert answer.status_code == 201, answer.text
    pg_ctl(fresh_lab, "standby", "promote -w", 60)
    for address in (fresh_lab.settings.primary_ip, fresh_lab.settings.standby_ip):
        with connect(str(address), fresh_lab.settings.pg_port, user="crmdr", password=fresh_lab.password,
                     dbname="crm") as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,), f"{address} is still in recovery"
    refused = replay(fresh_lab, tmp_path)
    assert refused.returncode == 3 and "Traceback" not in refused.stderr, refused.stderr
    assert "more than one database node accepts writes" in refused.stderr
    assert str(fresh_lab.settings.primary_ip) in refused.stderr and str(fresh_lab.settings.standby_ip) in refused.stderr
    assert {r["state"] for r in listed(fresh_lab).values()} == {"stored"}
    assert cases_for(fresh_lab, [request_id_for("split-brain-0001")]) == {}
