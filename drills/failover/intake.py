"""The intake's part of the failover drill: requests submitted while the primary is down, then
replayed into the recovered CRM; the objective is "customer requests lost: 0".

Drill requests say what they are (name, description) and are filed under `intake.drill_account`;
their acknowledgements are drafted next to the reports (`.intake-outbox`), never sent to anyone.
"""

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from drills.judge import Objective, at_most, check
from drills.report.model import Check
from outage.adapters import intake_client
from outage.adapters.ack_drafts import DraftOutbox
from outage.intake.model import request_id_for
from outage.intake.service import IntakeService, crm_for, store_for
from policies.errors import DrError
from recovery.inventory import Inventory

log = logging.getLogger(__name__)

REQUESTS = 5
OBJECTIVE = "customer requests lost"


@dataclass
class IntakeProbe:
    """Submits in a thread of its own, so the failover (and its RTO) does not wait for it."""

    inventory: Inventory
    run: str
    acknowledged: dict[str, str] = field(default_factory=dict)  # request id -> reference
    failures: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._submit, name="intake-drill", daemon=True)
        self._thread.start()

    def _submit(self) -> None:
        intake = self.inventory.intake
        if intake is None:
            return
        for index in range(REQUESTS):
            token = f"drill-{self.run}-{index}"
            body = {"name": "crm-dr drill", "email": "drill@crm-dr.invalid", "account_number": intake.drill_account
                    or "", "request_type": "case", "priority": "low", "consent": True,
                    "description": f"crm-dr failover drill {self.run}, request {index + 1}: not a customer request"}
            try:
                self.acknowledged[request_id_for(token)] = intake_client.submit(intake.url, body, token)
            except DrError as err:
                self.failures.append(str(err))

    def join(self, timeout: float = 60.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def replay_and_judge(probe: IntakeProbe, outbox: Path) -> tuple[list[Objective], dict[str, object], Check]:
    """After recovery: replay the drill's requests; every acknowledged one must be a case.
    Acknowledgements are drafted into `outbox` (outside the signed report), never sent."""
    probe.join()
    inventory = probe.inventory
    measured: dict[str, object] = {"intake_requests_acknowledged": len(probe.acknowledged),
                                   "intake_submit_failures": len(probe.failures)}
    try:
        service = IntakeService(store_for(inventory))
        with crm_for(inventory) as crm:
            outcome = service.replay(crm, DraftOutbox(outbox),
                                     only=frozenset(probe.acknowledged))
            entered = crm.snapshot(list(probe.acknowledged), [], []).entered
    except DrError as err:
        failed = check(OBJECTIVE, f"not measured: the replay failed ({err})")
        return [failed], measured, Check(name="intake replay", passed=False, detail=str(err))
    lost = sorted(ref for rid, ref in probe.acknowledged.items() if rid not in entered)
    measured.update(intake_requests_entered=len(entered), intake_requests_lost=len(lost),
                    intake_requests_review=len(outcome.review))
    objectives = [at_most(OBJECTIVE, len(lost), 0, what="requests")]
    if probe.failures or not probe.acknowledged:
        objectives.append(check("intake accepted requests during the outage",
                                f"{len(probe.failures)} of {REQUESTS} not accepted: {probe.failures[:1]}"))
    detail = (f"{len(outcome.entered)} entered, {len(outcome.already_entered)} already entered, "
              f"{len(outcome.review)} need review" + (f"; lost: {', '.join(lost)}" if lost else ""))
    return objectives, measured, Check(name="intake replay", passed=not lost, detail=detail)
