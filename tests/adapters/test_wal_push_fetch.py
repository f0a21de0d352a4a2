"""archive_command / restore_command entry points against moto: idempotent, never overwriting."""

from pathlib import Path

import pytest

from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import Inventory
from recovery.wal import fetch as wal_fetch
from recovery.wal import push as wal_push
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

SEGMENT = "000000010000000000000007"


@pytest.fixture
def inventory(dr_key_id: str, tmp_path: Path) -> tuple[Inventory, Path]:
    loaded = make_inventory(**{"backup.kms_key_id": dr_key_id})
    path = tmp_path / "inventory.json"
    path.write_text(loaded.to_json())
    return loaded, path


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
