"""The health probe's control-plane check: it reports an unreachable or silent Route 53 API and
never holds a probe beyond its deadline (so detection is never slowed by the AWS API)."""

import threading
import time
from typing import Any

import pytest

from policies.errors import CloudError
from recovery.adapters.health_probe import ControlPlaneCheck
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters


class Api:
    """Stands in for Route53Dns.records: answers, fails, or hangs until released."""

    def __init__(self) -> None:
        self.failure: Exception | None = None
        self.released = threading.Event()
        self.released.set()
        self.calls = 0

    def records(self) -> dict[str, Any]:
        self.calls += 1
        self.released.wait(10)
        if self.failure:
            raise self.failure
        return {}


def check_with(api: Api, every: float = 0.0) -> ControlPlaneCheck:
    check = ControlPlaneCheck(make_inventory(), timeout=0.2, every=every)
    check._dns = api  # type: ignore[assignment]  # the boto3 side is tested against moto elsewhere
    return check


def test_an_answering_api_is_reachable_and_a_failing_one_names_its_error() -> None:
    api = Api()
    check = check_with(api)
    check.start(time.monotonic())
    assert check.outcome(time.monotonic() + 1) is None
    api.failure = CloudError("Route 53: cannot read db.crm.example. (Could not connect)")
    check.start(time.monotonic())
    assert check.outcome(time.monotonic() + 1) == "Route 53: cannot read db.crm.example. (Could not connect)"


def test_a_silent_api_is_not_called_reachable_and_never_holds_a_probe_past_its_deadline() -> None:
    api = Api()
    api.released.clear()
    check = check_with(api)
    check.start(time.monotonic())
    began = time.monotonic()
    assert check.outcome(began + 0.05) == "Route 53 API: no answer within 0.2s"  # the first read: waited 0.7 s
    assert time.monotonic() - began < 1.5
    began = time.monotonic()
    check.start(began)  # still running: no second read is stacked behind it
    assert check.outcome(began + 0.05) == "Route 53 API: no answer within 0.2s"
    assert time.monotonic() - began < 0.3 and api.calls == 1
    api.released.set()
    time.sleep(0.05)
    assert check.outcome(time.monotonic() + 1) is None


def test_reads_are_spaced_by_the_cadence() -> None:
    api = Api()
    check = check_with(api, every=60)
    for _ in range(5):
        check.start(time.monotonic())
        check.outcome(time.monotonic() + 1)
    assert api.calls == 1
