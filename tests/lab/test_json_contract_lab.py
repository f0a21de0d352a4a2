"""`--json` of the runbooks on a real lab: the plan as objects, no empty run id, errors as JSON."""

import json

import pytest

from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def test_a_dry_run_plan_is_objects_with_name_phase_and_truth(shared_lab: Lab) -> None:
    result = crmdr("failover", "--dry-run", "--json", "--inventory", str(shared_lab.inventory_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "dry-run" and document["run_id"] is None
    steps = document["plan"]
    assert [s["name"] for s in steps][:2] == ["fence", "promote"] and steps[0]["phase"] == "fence"
    assert all(set(s) == {"index", "name", "phase", "does", "truth"} for s in steps), steps
    assert all(isinstance(s["truth"]["done"], bool) and s["truth"]["detail"] for s in steps)
    assert document["plan_text"][0] == "failover plan:"


def test_a_refusal_with_json_is_a_json_error(shared_lab: Lab) -> None:
    result = crmdr("backup", "verify", "--id", "nosuch", "--json", "--inventory", str(shared_lab.inventory_path))
    assert result.returncode == 2
    assert "no recovery point 'nosuch'" in json.loads(result.stdout)["error"]["message"]
