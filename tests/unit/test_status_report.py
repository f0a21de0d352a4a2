"""Drill reports carry the customer communication record: updates, channels, deliveries, first-notice time."""

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.render import render_html
from drills.report.store import load_report
from outage.status.model import fold
from outage.status.record import communication_record
from outage.status.subscribers import Delivery
from policies.checklist import load_checklist, progress
from tests.unit.test_report import make_report
from tests.unit.test_status import T0, update

pytestmark = pytest.mark.unit


def record() -> dict[str, object]:
    [incident] = fold([update(1, "investigating", T0 + timedelta(seconds=1)),
                       update(2, "monitoring", T0 + timedelta(seconds=5))])
    deliveries = [Delivery("i1", 1, "webhook", "https://hooks.example.com/s", "withheld", 0, "x", "drill")]
    found = communication_record(incident, deliveries, T0, T0 + timedelta(seconds=6), drill=True)
    steps = progress(load_checklist(), [], T0, T0 + timedelta(seconds=6))
    return {**found, "checklist": [s.to_dict("en", T0) for s in steps]}


def test_the_record_times_detection_to_first_notice_and_lists_what_would_have_been_sent() -> None:
    found = record()
    assert found["first_notice_seconds"] == 1.0 and found["sent_to_customers"] is False
    updates = found["updates"]
    assert [u["state"] for u in updates] == ["investigating", "monitoring"]  # type: ignore[index, union-attr]
    assert updates[0]["channels"] == ["page", "webhook"]  # type: ignore[index]
    assert found["promises"][0]["kept"] is True  # type: ignore[index]


def test_the_html_report_has_a_communication_section(tmp_path: Path) -> None:
    report = load_report(make_report(tmp_path / "out", Ed25519PrivateKey.generate(), 1))
    with_record = report.model_copy(update={"measured": {**report.measured, "customer_communication": record()}})
    page = render_html(with_record).decode()
    assert "Customer communication (drill: nothing sent to customers)" in page
    assert '<table id="communication">' in page and "webhook https://hooks.example.com/s: withheld" in page
    assert "<strong>1.0 s</strong>" in page and '<table id="checklist">' in page
    assert "customer communication</th>" not in page, "not repeated as a measured row"
