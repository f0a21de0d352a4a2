"""Route 53's failover rule as the lab DNS server applies it to the zone's record sets."""

from typing import Any

import pytest

from drills.lab.dns_server import Answer, served

pytestmark = pytest.mark.unit


def pair(primary_check: str = "hc-p", secondary_check: str = "hc-s") -> list[dict[str, Any]]:
    return [
        {"Name": "db.crm.lab.", "Type": "A", "TTL": 5, "SetIdentifier": "primary", "Failover": "PRIMARY",
         "HealthCheckId": primary_check, "ResourceRecords": [{"Value": "10.0.0.1"}]},
        {"Name": "db.crm.lab.", "Type": "A", "TTL": 5, "SetIdentifier": "secondary", "Failover": "SECONDARY",
         "HealthCheckId": secondary_check, "ResourceRecords": [{"Value": "10.1.0.1"}]},
    ]


@pytest.mark.parametrize(("unhealthy", "answer"), [
    (set(), "10.0.0.1"), ({"hc-p"}, "10.1.0.1"), ({"hc-s"}, "10.0.0.1"), ({"hc-p", "hc-s"}, "10.0.0.1"),
], ids=["both healthy", "primary unhealthy", "secondary unhealthy", "both unhealthy: primary, as Route 53"])
def test_a_failover_pair_answers_by_health(unhealthy: set[str], answer: str) -> None:
    assert served(pair(), lambda check: check not in unhealthy) == (Answer("db.crm.lab.", "A", 5, (answer,)),)


def test_records_without_a_health_check_count_as_healthy_and_simple_records_are_served() -> None:
    records = [*pair(primary_check=""), {"Name": "crm.lab.", "Type": "NS", "TTL": 172800,
                                         "ResourceRecords": [{"Value": "ns-1.example."}]}]
    answers = served([{k: v for k, v in r.items() if k != "HealthCheckId" or v} for r in records],
                     lambda check: False)
    assert Answer("db.crm.lab.", "A", 5, ("10.0.0.1",)) in answers
    assert Answer("crm.lab.", "NS", 172800, ("ns-1.example.",)) in answers


def test_alias_weighted_and_unserved_types_are_left_out() -> None:
    records = [
        {"Name": "a.crm.lab.", "Type": "A", "AliasTarget": {"DNSName": "lb.example."}},
        {"Name": "w.crm.lab.", "Type": "A", "TTL": 5, "SetIdentifier": "w1", "Weight": 1,
         "ResourceRecords": [{"Value": "10.0.0.9"}]},
        {"Name": "crm.lab.", "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value": "ns. host. 1 2 3 4 5"}]},
    ]
    assert served(records, lambda check: True) == ()
