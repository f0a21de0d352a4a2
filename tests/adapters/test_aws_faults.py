"""AWS faults at the adapters: throttling and 5xx are retried (botocore standard mode) and succeed;
AccessDenied is not retried and becomes a CloudError naming service, operation and resource,
with no credential in it. Faults come from a before-send hook in front of moto (aws_faults.py)."""

import io
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from policies.errors import CloudError
from recovery.adapters.aws_session import RETRIES
from recovery.adapters.dynamo_lock import DynamoLock
from recovery.adapters.rds import RdsSnapshots
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.s3_store import MiB, S3ObjectStore
from recovery.adapters.sns_notifier import SnsNotifier
from recovery.inventory import Inventory
from tests.adapters.aws_faults import deny, server_error, throttle
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

CANARY_SECRET = "canary-SECRET-9f3b2c"


@pytest.fixture
def inventory(dr_key_id: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inventory]:
    """moto's DR side plus a lock table, a topic, a zone with failover records and an RDS instance."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    boto3.client("dynamodb", region_name="us-west-2").create_table(
        TableName="crmdr-locks", KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("sns", region_name="us-west-2").create_topic(Name="crmdr")
    r53 = boto3.client("route53", region_name="us-east-1")
    zone = r53.create_hosted_zone(Name="crm.example.", CallerReference="faults")["HostedZone"]["Id"].split("/")[-1]
    inv = make_inventory(**{"backup.kms_key_id": dr_key_id, "dns.zone_id": zone})
    Route53Dns(inv).point_to(("10.0.0.1", None), ("10.1.0.1", None))
    boto3.client("rds", region_name="us-east-1").create_db_instance(
        DBInstanceIdentifier="crm-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="crmdr", MasterUserPassword="not-a-secret-1")
    yield inv


def _no_secret(err: BaseException) -> str:
    text = str(err)
    assert CANARY_SECRET not in text and "\n" not in text
    return text


def test_the_clients_retry_in_standard_mode_with_backoff() -> None:
    retries: Any = getattr(RETRIES, "retries")  # noqa: B009 -- botocore sets Config attributes dynamically
    # botocore rewrites the shared dict in place once a client is made: max_attempts 5 (retries)
    # becomes total_max_attempts 6 (attempts), so the test passes in any order
    assert retries["mode"] == "standard"
    assert retries.get("total_max_attempts", retries.get("max_attempts", 0) + 1) == 6


@pytest.mark.parametrize("inject", [throttle, server_error], ids=["throttled", "5xx"])
def test_s3_put_and_get_are_retried(inventory: Inventory, inject: Any) -> None:
    store = S3ObjectStore(inventory)
    put, get = inject(store._s3, "s3", "PutObject"), inject(store._s3, "s3", "GetObject")

    store.put_bytes("runs/r.jsonl", b"line\n")

    assert store.get_bytes("runs/r.jsonl") == b"line\n"
    assert (put.attempts, get.attempts) == (put.injected + 1, get.injected + 1)
    assert put.injected >= 1


def test_s3_multipart_upload_survives_slowdown_on_a_part(inventory: Inventory) -> None:
    store = S3ObjectStore(inventory, part_size=5 * MiB)
    data = b"x" * (11 * MiB)
    create, part = throttle(store._uploads, "s3", "CreateMultipartUpload"), throttle(store._uploads, "s3", "UploadPart", 2)

    stored = store.upload_stream("points/p/base.tar", io.BufferedReader(io.BytesIO(data)))

    assert stored.size == len(data) and store.head("points/p/base.tar") is not None
    assert create.attempts == 2 and part.attempts == 3 + 2  # three parts, two of them answered twice


def test_s3_access_denied_is_not_retried_and_names_the_object(inventory: Inventory) -> None:
    store = S3ObjectStore(inventory)
    fault = deny(store._s3, "s3", "PutObject")

    with pytest.raises(CloudError) as err:
        store.put_bytes("points/a/manifest.json", b"{}")

    assert fault.attempts == 1 and err.value.retryable is False
    assert "write s3://crm-backups/crm/points/a/manifest.json: AccessDenied" in _no_secret(err.value)


@pytest.mark.parametrize("inject", [throttle, server_error], ids=["throttled", "5xx"])
def test_route53_point_to_is_retried(inventory: Inventory, inject: Any) -> None:
    dns = Route53Dns(inventory)
    fault = inject(dns._client, "route53", "ChangeResourceRecordSets")

    dns.point_to(("10.1.0.1", None), ("10.1.0.1", None))

    assert fault.attempts == fault.injected + 1 and dns.resolve() == "10.1.0.1"


def test_route53_access_denied_names_the_record_and_operation(inventory: Inventory) -> None:
    dns = Route53Dns(inventory)
    fault = deny(dns._client, "route53", "ChangeResourceRecordSets")

    with pytest.raises(CloudError) as err:
        dns.point_to(("10.1.0.1", None), ("10.1.0.1", None))

    text = _no_secret(err.value)
    assert fault.attempts == 1 and err.value.retryable is False
    assert "Route 53" in text and "db.crm.example." in text and "AccessDenied" in text
    assert "ChangeResourceRecordSets" in text
    assert dns.resolve() == "10.0.0.1"


@pytest.mark.parametrize("inject", [throttle, server_error], ids=["throttled", "5xx"])
def test_dynamo_lock_acquire_renew_release_are_retried(inventory: Inventory, inject: Any) -> None:
    lock = DynamoLock(inventory)
    puts = inject(lock._db, "dynamodb", "PutItem")
    delete = inject(lock._db, "dynamodb", "DeleteItem")

    lock.acquire("run-1")
    lock.renew()
    assert (lock.current() or {}).get("run_id") == "run-1"
    lock.release()

    assert lock.current() is None
    assert puts.attempts == puts.injected + 2 and delete.attempts == delete.injected + 1


def test_dynamo_access_denied_on_acquire_names_the_table(inventory: Inventory) -> None:
    lock = DynamoLock(inventory)
    fault = deny(lock._db, "dynamodb", "PutItem")

    with pytest.raises(CloudError) as err:
        lock.acquire("run-1")

    text = _no_secret(err.value)
    assert fault.attempts == 1 and "lock table crmdr-locks" in text and "PutItem" in text
    assert err.value.retryable is False
    assert lock.current() is None


def test_dynamo_access_denied_on_release_is_logged_and_the_lease_left_to_expire(
        inventory: Inventory, caplog: pytest.LogCaptureFixture) -> None:
    lock = DynamoLock(inventory)
    lock.acquire("run-1")
    fault = deny(lock._db, "dynamodb", "DeleteItem")

    with caplog.at_level(logging.WARNING):
        lock.release()

    assert fault.attempts == 1 and "could not release the recovery lock" in caplog.text
    assert CANARY_SECRET not in caplog.text
    assert (lock.current() or {}).get("run_id") == "run-1"


@pytest.mark.parametrize("inject", [throttle, server_error], ids=["throttled", "5xx"])
def test_sns_publish_is_retried(inventory: Inventory, inject: Any) -> None:
    notifier = SnsNotifier(inventory)
    fault = inject(notifier._sns, "sns", "Publish")

    notifier.publish("crmdr failover test: started", "body")

    assert notifier.sent == ["crmdr failover test: started"] and fault.attempts == fault.injected + 1


def test_sns_denied_never_stops_recovery(inventory: Inventory, caplog: pytest.LogCaptureFixture) -> None:
    notifier = SnsNotifier(inventory)
    fault = deny(notifier._sns, "sns", "Publish")

    with caplog.at_level(logging.WARNING):
        notifier.publish("crmdr failover test: started", "body")

    assert fault.attempts == 1 and notifier.sent == []
    assert "status notice not sent (AuthorizationErrorException)" in caplog.text and CANARY_SECRET not in caplog.text


@pytest.mark.parametrize("inject", [throttle, server_error], ids=["throttled", "5xx"])
def test_rds_describe_is_retried(inventory: Inventory, inject: Any) -> None:
    rds = RdsSnapshots(inventory)
    fault = inject(rds._primary, "rds", "DescribeDBInstances")

    assert rds.instance("crm-db")["DBInstanceIdentifier"] == "crm-db"
    assert fault.attempts == fault.injected + 1


def test_rds_access_denied_names_the_instance(inventory: Inventory) -> None:
    rds = RdsSnapshots(inventory)
    fault = deny(rds._primary, "rds", "CreateDBSnapshot")

    with pytest.raises(CloudError) as err:
        rds.snapshot("crm-db", "crm-db-point-1")

    text = _no_secret(err.value)
    assert fault.attempts == 1 and "RDS instance crm-db" in text and "AccessDenied" in text
    assert err.value.retryable is False


def test_route53_5xx_past_the_client_retries_stays_retryable(inventory: Inventory) -> None:
    dns = Route53Dns(inventory)
    fault = server_error(dns._client, "route53", "ChangeResourceRecordSets", times=10)

    with pytest.raises(CloudError) as err:
        dns.point_to(("10.1.0.1", None), ("10.1.0.1", None))

    assert fault.attempts > 1 and err.value.retryable is True  # the client retried; the engine may again
