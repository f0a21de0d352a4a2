"""Owner-only files: keys, journals and lab secrets are born private, and unsafe places are refused.

Each writer is exercised under umask 000, so a mode that is only right thanks to the caller's
umask (or a chmod after the bytes are already readable) fails here.
"""

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills.lab.lab import _ensure_secrets
from drills.lab.settings import LabPaths
from drills.report.signing import load_or_create_key, public_key_text, read_public_key
from drills.report.store import make_dir, write_private
from policies.errors import Refused
from recovery.runbooks.journal.files import Journal
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.unit


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return 1.0


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_signing_key_is_0600_in_a_0700_directory(tmp_path: Path, open_umask: None) -> None:
    key = tmp_path / "keys" / "signing.pem"
    load_or_create_key(key, create=True)
    assert (mode(key), mode(key.parent)) == (0o600, 0o700)


@pytest.mark.parametrize("unsafe", [0o644, 0o604, 0o606, 0o601], ids=lambda m: f"{m:04o}")
def test_a_signing_key_every_user_can_reach_is_refused(tmp_path: Path, unsafe: int) -> None:
    key = tmp_path / "signing.pem"
    load_or_create_key(key, create=True)
    key.chmod(unsafe)
    with pytest.raises(Refused, match=r"accessible to every user \(mode 0" + f"{unsafe:o}"):
        load_or_create_key(key, create=False)


def test_a_group_readable_signing_key_is_accepted_and_verifying_needs_no_private_mode(tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    created = load_or_create_key(key, create=True)
    key.chmod(0o640)
    assert public_key_text(load_or_create_key(key, create=False)) == public_key_text(created)
    key.chmod(0o644)
    assert read_public_key(key) == public_key_text(created), "a trust anchor is only read for its public half"


def test_a_world_writable_report_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(Refused, match="writable by every user"):
        make_dir(shared)
    assert mode(shared) == 0o777, "refused means untouched"
    fresh = make_dir(tmp_path / "reports" / "r1")
    assert mode(fresh) == 0o750


def test_report_files_are_born_0640(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "report.json"
    write_private(path, b"{}")
    assert mode(path) == 0o640


def test_journal_files_are_0640_in_a_0750_directory(tmp_path: Path, open_umask: None) -> None:
    journal = Journal("failover-1", "failover", tmp_path / "runs", FixedClock())
    journal.record("fence", "started")
    assert (mode(journal.path), mode(journal.path.parent)) == (0o640, 0o750)


def test_lab_secrets_are_0600_in_a_0700_directory(tmp_path: Path, open_umask: None) -> None:
    paths = LabPaths(tmp_path)
    values = _ensure_secrets(paths)
    assert set(values) == {"db_password", "replication_password"}
    assert mode(paths.secrets) == 0o700
    assert {mode(p) for p in paths.secrets.iterdir()} == {0o600}


def drill_cli(tmp_path: Path, key: Path, out: Path) -> tuple[int, str]:
    inventory = tmp_path / "inventory.json"
    inventory.write_text(make_inventory().to_json())
    done = crmdr("drill", "run", "--type", "backup-verify", "--inventory", str(inventory), "--signing-key",
                 str(key), "--out", str(out), "--no-bucket")
    return done.returncode, done.stderr


def test_cli_refuses_a_world_readable_key_with_exit_3_and_writes_nothing(tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    load_or_create_key(key, create=True)
    key.chmod(0o644)
    code, stderr = drill_cli(tmp_path, key, tmp_path / "reports")
    assert code == 3, stderr
    assert stderr.count("\n") == 1 and "every user" in stderr and str(key) in stderr
    assert not (tmp_path / "reports").exists()


def test_cli_refuses_a_world_writable_report_directory_with_exit_3(tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    load_or_create_key(key, create=True)
    out = tmp_path / "reports"
    out.mkdir()
    out.chmod(0o777)
    code, stderr = drill_cli(tmp_path, key, out)
    assert code == 3, stderr
    assert stderr.count("\n") == 1 and "writable by every user" in stderr
    assert list(out.iterdir()) == [] and mode(out) == 0o777
