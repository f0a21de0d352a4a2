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
