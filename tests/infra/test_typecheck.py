"""The type checker catches a misspelt resource argument before any `pulumi up`.

pulumi_aws types every resource's keyword arguments, so mypy (run by `make typecheck`) fails
on a typo that Python would only report at deployment time, if at all.
"""

import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import INFRA

pytestmark = INFRA

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
import pulumi_aws as aws

aws.rds.Instance("db", instance_class="db.t3.micro", backup_retention_period=35, deletion_protection=True)
aws.backup.PlanRuleArgs(rule_name="daily", target_vault_name="vault", schedule="cron(0 5 * * ? *)")
"""
BAD = """
import pulumi_aws as aws

aws.rds.Instance("db", instance_class="db.t3.micro", backup_retention_periods=35, deletion_protection=True)
aws.backup.PlanRuleArgs(rule_name="daily", target_vault_name="vault", schedul="cron(0 5 * * ? *)")
"""


def test_mypy_rejects_a_misspelt_resource_argument_and_accepts_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "bad.py").write_text(BAD)
    result = subprocess.run(
        # The project's settings and cache: `make typecheck` has usually warmed it already.
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "good.py",
            "bad.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert all(line.startswith("bad.py:") for line in errors), errors
    assert any(line.startswith("bad.py:4:") and "backup_retention_periods" in line for line in errors), errors
    assert any(line.startswith("bad.py:5:") and "schedul" in line for line in errors), errors
