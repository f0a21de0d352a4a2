"""archive_command / restore_command entry points against moto: idempotent, never overwriting."""

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from recovery import wal_fetch, wal_push
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import Inventory
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

SEGMENT = "000000010000000000000007"


@pytest.fixture
def inventory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Inventory, Path]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key_id = boto3.client("kms", region_name="us-west-2").create_key()["KeyMetadata"]["KeyId"]
        boto3.client("s3", region_name="us-west-2").create_bucket(
            Bucket="crm-backups", ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        loaded = make_inventory(**{"backup.kms_key_id": key_id})
        path = tmp_path / "inventory.json"
        path.write_text(loaded.to_json())
        yield loaded, path


def test_push_is_idempotent_locked_and_fetch_round_trips(inventory: tuple[Inventory, Path],
                                                         tmp_path: Path) -> None:
    loaded, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"wal" * 1000)

    assert wal_push.main(["--inventory", str(path), str(segment), SEGMENT]) == 0
    assert wal_push.main(["--inventory", str(path), str(segment), SEGMENT]) == 0  # a retry

    head = S3ObjectStore(loaded).head(f"wal/{SEGMENT}")
    assert head is not None and head.lock_mode == "GOVERNANCE" and head.retain_until is not None
    target = tmp_path / "restored"
    assert wal_fetch.main(["--inventory", str(path), SEGMENT, str(target)]) == 0
    assert target.read_bytes() == segment.read_bytes()


def test_push_refuses_other_content_and_fetch_signals_end_of_archive(
        inventory: tuple[Inventory, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"a" * 100)
    assert wal_push.main(["--inventory", str(path), str(segment), SEGMENT]) == 0
    segment.write_bytes(b"b" * 100)

    assert wal_push.main(["--inventory", str(path), str(segment), SEGMENT]) == 1
    assert "already exists with different content" in caplog.text
    assert wal_fetch.main(["--inventory", str(path), "000000010000000000000099", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.glob("*.crmdr-partial"))
