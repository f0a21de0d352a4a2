"""`crmdr restore` bad input: one sentence naming the option, exit 2, before any host or AWS call."""

from pathlib import Path

import pytest

from tests.conftest import crmdr

pytestmark = pytest.mark.unit


def restore(inventory_file: Path, *args: str) -> tuple[int, str]:
    done = crmdr("restore", *args, "--yes", "--inventory", str(inventory_file))
    return done.returncode, done.stderr


def test_exactly_one_of_id_or_latest(inventory_file: Path) -> None:
    for args in (["--target", "standby"], ["--id", "x", "--latest", "--target", "standby"]):
        assert restore(inventory_file, *args) == (2, "crmdr: give exactly one of --id ID or --latest\n")


def test_the_target_must_be_a_node_of_the_inventory(inventory_file: Path) -> None:
    code, err = restore(inventory_file, "--latest", "--target", "replica")

    assert code == 2
    assert "--target: no database node named 'replica' in the inventory (expected one of: primary, standby)" in err
    assert restore(inventory_file, "--latest")[1].startswith("crmdr: --target is required")


def test_to_time_must_be_iso_8601(inventory_file: Path) -> None:
    code, err = restore(inventory_file, "--latest", "--target", "standby", "--to-time", "last tuesday")

    assert code == 2 and "--to-time 'last tuesday' is not an ISO-8601 time" in err


def test_no_terminal_and_no_yes_is_refused(inventory_file: Path) -> None:
    done = crmdr("restore", "--latest", "--target", "standby", "--inventory", str(inventory_file))

    assert done.returncode == 3 and "no terminal to confirm on: pass --yes" in done.stderr
