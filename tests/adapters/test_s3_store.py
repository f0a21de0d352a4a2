"""S3ObjectStore against moto (in-process): SSE-KMS, Object Lock, multipart streaming."""

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from policies.errors import CloudError
from recovery.adapters.s3_store import MiB, S3ObjectStore
from recovery.ports import ObjectNotFound
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters


@pytest.fixture
def store(dr_key_id: str) -> S3ObjectStore:
    return S3ObjectStore(make_inventory(**{"backup.kms_key_id": dr_key_id}), part_size=5 * MiB)


def test_put_get_head_list_with_kms_and_lock(store: S3ObjectStore) -> None:
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    stored = store.put_bytes("points/a/manifest.json", b"{}", retain_until=until)
    store.put_bytes("journals/run.jsonl", b"line\n")

    assert stored.sha256 == hashlib.sha256(b"{}").hexdigest()
    assert store.get_bytes("points/a/manifest.json") == b"{}"
    head = store.head("points/a/manifest.json")
    assert head is not None and head.size == 2
    assert head.lock_mode == "GOVERNANCE"  # the gold tier's mode
    assert head.retain_until == until
    assert head.kms_key_id is not None and store.kms_key_id in head.kms_key_id
    assert [o.key for o in store.list("points/")] == ["points/a/manifest.json"]
    assert store.head("points/none") is None


def test_stream_upload_is_multipart_and_hashed(store: S3ObjectStore) -> None:
    data = bytes(range(256)) * (12 * MiB // 256 + 7)  # > 2 parts of 5 MiB
    seen: list[int] = []

    stored = store.upload_stream("points/b/base.tar", io.BufferedReader(io.BytesIO(data)),
                                 on_progress=seen.append)

    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert sum(seen) == len(data)
    assert hashlib.sha256(b"".join(store.iter_chunks("points/b/base.tar", 1 * MiB))).hexdigest() \
        == stored.sha256
    raw = store._s3.head_object(Bucket="crm-backups", Key="crm/points/b/base.tar", PartNumber=1)
    assert raw["PartsCount"] == 3


def test_missing_object_names_the_key(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match=r"crm/points/x/base\.tar"):
        store.get_bytes("points/x/base.tar")


def test_delete_removes_unlocked_and_refuses_locked(store: S3ObjectStore) -> None:
    store.put_bytes("free", b"x")
    store.put_bytes("locked", b"y", retain_until=datetime.now(UTC) + timedelta(days=1))

    store.delete("free")

    assert store.head("free") is None
    with pytest.raises(CloudError, match="AccessDenied"):
        store.delete("locked")
    assert store.get_bytes("locked") == b"y"


def test_a_signal_mid_upload_aborts_the_multipart_upload(store: S3ObjectStore) -> None:
    """Holds "Interrupted backup" of issue 12 at the adapter: SIGINT (a real signal to this process)
    while a multipart upload is open leaves no upload and no object behind."""
    import os
    import signal
    import threading

    release = threading.Event()

    class Stalling(io.RawIOBase):
        """Two parts' worth of bytes, then it waits (a backup stream that is still running)."""

        def __init__(self) -> None:
            self.left = 11 * MiB

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.left <= 0:
                release.wait(30)
                return b""
            chunk = min(self.left, size if size > 0 else self.left)
            self.left -= chunk
            return b"z" * chunk

    def interrupt_once_open() -> None:
        for _ in range(300):
            if store.uploads("points/c/"):
                break
            threading.Event().wait(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        release.set()

    threading.Thread(target=interrupt_once_open, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        store.upload_stream("points/c/base.tar", Stalling())

    assert store.uploads() == []
    assert store.list("points/c/") == []
