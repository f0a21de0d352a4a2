"""Host keys stay pinned: the lint bans every way around the pinned factory, and the factory pins.

`make test` runs `ruff check .` over every package, tests, benchmarks and fabfile.py; these tests
prove the project's ruff configuration flags the Fabric-style misuse that bandit's S507 alone
misses (it only sees a policy set on a local `SSHClient()`), so the rule cannot be dropped quietly.
"""

import json
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from recovery.adapters.fabric_host import pinned_connection
from tests.conftest import ROOT, make_inventory

pytestmark = pytest.mark.unit

RUFF = Path(sys.executable).parent / "ruff"

MISUSES = {
    "fabric_auto_add": "import paramiko\n\ndef f(conn):\n    conn.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n",
    "warning_policy": "from paramiko.client import WarningPolicy\n",
    "ssh_client_with_system_keys": "import paramiko\n\nc = paramiko.SSHClient()\nc.load_system_host_keys()\n",
    "bare_fabric_connection": "from fabric import Connection\n\nConnection('db1').run('true')\n",
    "local_client_auto_add": "from paramiko import client\n\ns = client.SSHClient()\ns.set_missing_host_key_policy(client.AutoAddPolicy)\n",
}


def lint(source: str, as_path: str) -> set[str]:
    """Rule codes the project's ruff configuration reports for `source` placed at `as_path`."""
    done = subprocess.run([str(RUFF), "check", "--no-cache", "--output-format", "json", "--stdin-filename",
                           as_path, "-"], input=source, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return {finding["code"] for finding in json.loads(done.stdout)}


@pytest.mark.parametrize("name", sorted(MISUSES))
def test_the_lint_flags_unpinned_ssh_anywhere_in_the_code(name: str) -> None:
    for where in ("recovery/adapters/new_ssh.py", "drills/new_drill.py", "benchmarks/new_bench.py",
                  "tests/lab/test_new.py"):
        assert lint(MISUSES[name], where) & {"TID251", "S507"}, f"{name} at {where} passes the lint"


def test_pinned_connection_trusts_exactly_the_inventory_key() -> None:
    node = make_inventory().database.primary
    conn = pinned_connection(node, make_inventory().ssh)
    client = conn.client
    assert isinstance(client._policy, paramiko.RejectPolicy)
    known = client.get_host_keys()
    trusted = {key.get_base64() for name in known for key in known[name].values()}
    assert trusted == {node.known_hosts.split()[-1]}
    assert len(client._system_host_keys) == 0, "system known_hosts must not widen the trust"
