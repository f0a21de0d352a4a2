"""RDS failover decisions from describe output: promote, restore or nothing; fenced or not."""

from datetime import UTC, datetime, timedelta

import pytest

from recovery.runbooks.rds_decisions import rds_fenced, recovery_target, snapshot_age_seconds, standalone

pytestmark = pytest.mark.unit

REPLICA = {"DBInstanceIdentifier": "r", "DBInstanceStatus": "available",
           "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:1:db:p"}
TAKEN = datetime(2026, 1, 1, tzinfo=UTC)
SNAPSHOT = {"DBSnapshotIdentifier": "crmdr-1", "SnapshotCreateTime": TAKEN}


def test_usable_replica_is_promoted() -> None:
    assert recovery_target("r", REPLICA, SNAPSHOT) == ("promote", "r")


def test_no_replica_restores_into_the_standby_id_and_a_broken_one_into_a_new_id() -> None:
    assert recovery_target("r", None, SNAPSHOT) == ("restore", "r")
    assert recovery_target("r", {**REPLICA, "DBInstanceStatus": "failed"}, SNAPSHOT) == ("restore", "r-restored")


def test_nothing_to_fail_over_to_is_a_reason() -> None:
    reason = recovery_target("r", {**REPLICA, "DBInstanceStatus": "incompatible-restore"}, None)
    assert reason == ("nothing to fail over to: replica incompatible-restore and no available snapshot "
                      "copied into the DR region")


def test_promoted_instance_is_done_and_standalone() -> None:
    promoted = {k: v for k, v in REPLICA.items() if k != "ReadReplicaSourceDBInstanceIdentifier"}
    assert recovery_target("r", promoted, None) == ("done", "r")
    assert standalone(promoted, "r").done
    assert not standalone(REPLICA, "r").done
    assert standalone(None, "r").detail == "r does not exist yet"


@pytest.mark.parametrize(("instance", "fenced"), [
    (None, True),
    ({"DBInstanceStatus": "stopped"}, True),
    ({"DBInstanceStatus": "available", "DBParameterGroups": [
        {"DBParameterGroupName": "crmdr-fence-postgres15", "ParameterApplyStatus": "in-sync"}]}, True),
    ({"DBInstanceStatus": "available", "DBParameterGroups": [
        {"DBParameterGroupName": "crmdr-fence-postgres15", "ParameterApplyStatus": "pending-reboot"}]}, False),
    ({"DBInstanceStatus": "available", "DBParameterGroups": [
        {"DBParameterGroupName": "default.postgres15", "ParameterApplyStatus": "in-sync"}]}, False),
])
def test_fenced_only_when_it_cannot_take_writes(instance: dict[str, object] | None, fenced: bool) -> None:
    assert rds_fenced(instance, "p", "crmdr-fence-postgres15").done is fenced


def test_snapshot_age_is_what_a_restore_loses() -> None:
    assert snapshot_age_seconds(SNAPSHOT, TAKEN + timedelta(minutes=5)) == 300.0
