"""`crmdr backup` bad input: one sentence, exit 2, nothing touched (no AWS, no database)."""

from pathlib import Path

import pytest

from tests.conftest import crmdr

pytestmark = pytest.mark.unit


def test_verify_needs_exactly_one_of_id_or_latest(inventory_file: Path) -> None:
    for args in ([], ["--id", "x", "--latest"]):
        done = crmdr("backup", "verify", *args, "--inventory", str(inventory_file))
        assert done.returncode == 2
        assert "exactly one of --id ID or --latest" in done.stderr


def test_unknown_kind_is_bad_input(inventory_file: Path) -> None:
    done = crmdr("backup", "run", "--kind", "incremental", "--inventory", str(inventory_file))
    assert done.returncode == 2
    assert "--kind must be physical or logical, got 'incremental'" in done.stderr


def test_missing_inventory_names_the_file(tmp_path: Path) -> None:
    done = crmdr("backup", "list", "--inventory", str(tmp_path / "nope.json"))
    assert done.returncode == 2
    assert "nope.json" in done.stderr


def test_unknown_compression_is_bad_input(inventory_file: Path) -> None:
    done = crmdr("backup", "run", "--compress", "gzip", "--inventory", str(inventory_file))
    assert done.returncode == 2
    assert "--compress must be one of zstd, lz4, none, got 'gzip'" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_source_role_is_bad_input(inventory_file: Path) -> None:
    done = crmdr("backup", "run", "--from", "replica", "--inventory", str(inventory_file))
    assert done.returncode == 2
    assert "--from must be primary or standby, got 'replica'" in done.stderr


@pytest.mark.parametrize(("every", "expected"), [
    ("0s", "expected a duration above zero, got 0s"),
    ("abc", "expected a duration such as 30s, 5m, 1h or 35d, got 'abc'"),
    ("-1s", "expected a duration such as 30s, 5m, 1h or 35d, got '-1s'")])
def test_wal_stream_refuses_a_partial_cadence_not_above_zero_and_starts_nothing(
        inventory_file: Path, tmp_path: Path, every: str, expected: str) -> None:
    """0s would re-read and hash the 16 MB partial on every 0.1 s poll; abc and -1s are no cadence."""
    stream_dir = tmp_path / "stream"
    done = crmdr("backup", "wal", "stream", f"--partial-every={every}", "--dir", str(stream_dir),
                 "--inventory", str(inventory_file), env={"CRMDR_TEST_DB_PASSWORD": "not-a-real-one"}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"crmdr: --partial-every: {expected}"], done.stderr
    assert done.stdout == "" and not stream_dir.exists(), "the stream started"


def test_wal_stream_with_a_missing_inventory_names_the_file_and_starts_nothing(tmp_path: Path) -> None:
    done = crmdr("backup", "wal", "stream", "--dir", str(tmp_path / "stream"),
                 "--inventory", str(tmp_path / "nope.json"), timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"crmdr: {tmp_path / 'nope.json'}: inventory file not found"]
    assert done.stdout == "" and not (tmp_path / "stream").exists()
