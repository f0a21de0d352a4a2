"""The README's point-in-time example, run as written by /bin/sh on a fresh lab: it must work."""

import json
import os
import re
import subprocess

import pytest

from recovery.adapters.postgres import connect
from tests.conftest import ROOT
from tests.lab.conftest import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def readme_pitr_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Point in time, on a fresh lab"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_pitr_example_restores_the_standby_to_t(fresh_lab: Lab) -> None:
    script = readme_pitr_block()
    assert "--to-time \"$T\"" in script and "backup wal install" in script
    done = subprocess.run(["/bin/sh", "-ec", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CRMDR_INVENTORY": str(fresh_lab.inventory_path)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "restore done" in done.stdout or "restored" in done.stdout, done.stdout[-2000:]
    with connect(fresh_lab.settings.standby_ip.exploded, fresh_lab.settings.pg_port, user="crmdr",
                 password=fresh_lab.password, dbname="crm") as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    assert json.loads(fresh_lab.inventory_path.read_text())["stack"]
