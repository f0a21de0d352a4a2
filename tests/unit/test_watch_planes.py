"""The watch tells the database's failure apart from the control plane's and from DNS's (issue 12).

Only the database failing at the address applications reach is an outage; an unreachable AWS API
or an unresolvable name is reported as its own state and never declares (so never fails over).
"""

from datetime import UTC, datetime, timedelta

import pytest

from recovery.watch.decide import ANSWERING, ProbeResult, Stage, Verdict, WatchSettings, WatchState, observe

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = WatchSettings(interval=0.5, failures=3, timeout=0.5)
API_DOWN = "Route 53: cannot read db.crm.lab. (Could not connect to the endpoint URL)"


def probe(i: int, ok: bool, failed_at: Stage = "database", control_plane: str | None = None) -> ProbeResult:
    detail = "SELECT 1 in 2.0 ms" if ok else ("DNS: cannot resolve db.crm.lab." if failed_at == "dns"
                                               else "connection refused")
    return ProbeResult(T0 + timedelta(seconds=i), 100.0 + i, ok, None if failed_at == "dns" and not ok else "10.0.0.1",
                       detail, failed_at=failed_at, control_plane=control_plane)


def run(*probes: ProbeResult) -> list[Verdict]:
    state, verdicts = WatchState(), []
    for one in probes:
        verdict = observe(state, one, SETTINGS)
        state = verdict.state
        verdicts.append(verdict)
    return verdicts


def test_an_unreachable_control_plane_with_a_healthy_database_is_its_own_state_and_never_an_outage() -> None:
    verdicts = run(*(probe(i, True, control_plane=API_DOWN) for i in range(10)))
    assert {v.status for v in verdicts} == {"control plane unreachable"}
    assert all(v.detection is None for v in verdicts)
    shown = verdicts[-1].to_dict()
    assert shown["control_plane"] == "unreachable" and shown["control_plane_error"] == API_DOWN
    assert shown["consecutive_failures"] == 0 and "no outage of the database" in str(shown["reason"])
    assert "control plane unreachable" in ANSWERING


def test_the_control_plane_coming_back_is_healthy_again() -> None:
    statuses = [v.status for v in run(probe(0, True, control_plane=API_DOWN), probe(1, True))]
    assert statuses == ["control plane unreachable", "healthy"]
    assert run(probe(0, True))[0].to_dict()["control_plane"] == "reachable"


def test_dns_failures_never_declare_and_do_not_count_as_database_failures() -> None:
    verdicts = run(*(probe(i, False, "dns") for i in range(10)))
    assert {v.status for v in verdicts} == {"dns unreachable"} and all(v.detection is None for v in verdicts)
    assert verdicts[-1].to_dict()["at"] == (T0 + timedelta(seconds=9)).isoformat(timespec="milliseconds")
    assert "no outage" in verdicts[-1].reason
    mixed = run(probe(0, False), probe(1, False, "dns"), probe(2, False), probe(3, False))
    assert [v.status for v in mixed] == ["suspect", "dns unreachable", "suspect", "outage"]
    assert mixed[-1].detection is not None and mixed[-1].detection.failures == 3


def test_the_database_failing_is_an_outage_even_while_the_control_plane_is_down() -> None:
    verdicts = run(*(probe(i, False, control_plane=API_DOWN) for i in range(3)))
    assert [v.status for v in verdicts] == ["suspect", "suspect", "outage"]
    found = verdicts[-1].detection
    assert found is not None and "at 10.0.0.1" in found.evidence and "connection refused" in found.evidence
    assert "the AWS API does not answer either" in verdicts[-1].reason
