"""The program runs the way Pulumi runs `main: infra/`: the directory itself, by runpy.

Pulumi's Python host calls `runpy.run_path("infra")`, which puts `infra/` (not the repository
root) first on sys.path. This runs the directory in a separate interpreter, from another
working directory, with the editable install switched off, so only infra/__main__.py can
make `infra`, `policies` and `recovery` importable.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import INFRA, stack_config

pytestmark = INFRA

ROOT = Path(__file__).resolve().parents[2]

HOST = """
import importlib.util, json, runpy, sys
root, config = sys.argv[1], json.loads(sys.argv[2])
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path[:] = [entry for entry in sys.path if not entry.startswith("__editable__")]
sys.path_importer_cache.clear()
assert importlib.util.find_spec("policies") is None, "the repository must not be importable up front"
spec = importlib.util.spec_from_file_location("standalone_mocks", root + "/infra/mocks.py")
mocks = importlib.util.module_from_spec(spec)
sys.modules["standalone_mocks"] = mocks
spec.loader.exec_module(mocks)
import pulumi
from pulumi.runtime.settings import get_root_resource
pulumi.runtime.set_mocks(mocks.AwsMocks(), project="crm-dr", stack="entry", preview=False)
pulumi.runtime.set_all_config(config, ["crm-dr:dbPassword"])

@pulumi.runtime.test
def program():
    runpy.run_path(root + "/infra", run_name="__main__")
    exported = get_root_resource().outputs["dr_inventory"]
    return pulumi.Output.from_input(exported).apply(lambda doc: print(json.dumps(
        {"stack": doc["stack"], "policies": sys.modules["policies"].__file__,
         "infra_on_path": root + "/infra" in sys.path})))

program()
"""


def test_the_infra_directory_runs_on_its_own_as_pulumi_runs_it(tmp_path: Path) -> None:
    host = tmp_path / "language_host.py"
    host.write_text(HOST)
    result = subprocess.run(
        [sys.executable, str(host), str(ROOT), json.dumps(stack_config())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["stack"] == "crm-dr-entry"
    assert Path(report["policies"]).is_relative_to(ROOT)
    assert report["infra_on_path"] is False, "infra/ must not shadow top-level modules"


def test_pulumi_yaml_points_at_the_program_directory() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    assert "runtime: python" in text
    assert "main: infra/" in text
    assert (ROOT / "infra" / "__main__.py").is_file()
