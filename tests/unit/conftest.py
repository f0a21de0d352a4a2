"""Fixtures for CLI tests that must fail before any AWS call."""

from pathlib import Path

import pytest

from tests.conftest import make_inventory


@pytest.fixture
def inventory_file(tmp_path: Path) -> Path:
    """An inventory whose AWS endpoint refuses connections: a command that reaches AWS fails loudly."""
    path = tmp_path / "inventory.json"
    path.write_text(make_inventory(**{"aws.endpoint_url": "http://127.0.0.1:9"}).to_json())
    return path
