"""Shared builders. Lab fixtures live in tests/lab/conftest.py."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from recovery.inventory import Inventory

ROOT = Path(__file__).resolve().parent.parent

# Under pytest-xdist each worker takes the next loopback block (127.0.NET+i.x), so the labs of two
# workers never share an address; set before any test module reads it.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    os.environ["CRMDR_TEST_NET"] = str(int(os.environ.get("CRMDR_TEST_NET", "100")) + int(_WORKER[2:]))
# Runs without --journal-dir journal to the default, `.crmdr/runs` under the checkout: shared by both
# workers, one worker's restore in progress would refuse the other's ("an unfinished restore run").
os.environ.setdefault("CRMDR_JOURNAL_DIR", tempfile.mkdtemp(prefix=f"crmdr-runs-{_WORKER or 'main'}-"))


def pytest_configure(config: pytest.Config) -> None:
    """The controller makes the lab's service user once, so parallel workers never race on /etc/passwd."""
    if not _WORKER:
        from drills.lab.system import ensure_os_user

        ensure_os_user()


def make_inventory(**overrides: Any) -> Inventory:
    """A valid hosts-engine inventory; nested overrides with dotted keys ('database.synchronous')."""
    data: dict[str, Any] = {
        "stack": "test",
        "environment": "staging",
        "sla_tier": "gold",
        "regions": {"primary": "us-east-1", "dr": "us-west-2"},
        "database": {
            "engine": "hosts",
            "password": {"env": "CRMDR_TEST_DB_PASSWORD"},
            "primary": {"name": "primary", "host": "10.0.0.1", "region": "us-east-1", "user": "postgres",
                        "known_hosts": "10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMLqSYavo/dnJZREfO6DUjt+H7VqA+LZ9SyW7Z+A87Wf",
                        "data_dir": "/var/lib/postgresql/15/main"},
            "standby": {"name": "standby", "host": "10.1.0.1", "region": "us-west-2", "user": "postgres",
                        "known_hosts": "10.1.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIILYWhGXcmb2ZqHsGWBqz7GBhgZVGnDQpD+WZ+00+S/",
                        "data_dir": "/var/lib/postgresql/15/main"},
        },
        "backup": {"bucket": "crm-backups", "region": "us-west-2", "kms_key_id": "alias/crm"},
        "dns": {"zone_id": "Z123", "zone": "crm.example.", "record_name": "db.crm.example."},
        "lock": {"table": "crmdr-locks", "region": "us-west-2"},
        "notify": {"topic_arn": "arn:aws:sns:us-west-2:123456789012:crmdr"},
    }
    for dotted, value in overrides.items():
        target = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return Inventory.model_validate(data)


def crmdr(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point, as a user would; exit codes are the contract."""
    return subprocess.run(
        [sys.executable, "-m", "crmdr", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=cwd or ROOT,
    )


@pytest.fixture(autouse=True, scope="session")
def private_object_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the suite's cached manifests out of the developer's ~/.cache (child processes inherit it)."""
    os.environ.setdefault("CRMDR_CACHE_DIR", str(tmp_path_factory.mktemp("object-cache")))


@pytest.fixture(autouse=True, scope="session")
def private_key_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated report signing keys go to a temporary key directory, not ~/.config/crmdr/keys."""
    os.environ.setdefault("CRMDR_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
