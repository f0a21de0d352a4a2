"""Entry point Pulumi runs for `--policy-pack policies/pack`.

Like the program, the pack directory is executed with `runpy`, which puts it first on
sys.path; the repository root replaces it so `policies.*` resolve to this repository.
"""

import sys
from pathlib import Path

_PACK_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACK_DIR.parents[1]
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _PACK_DIR]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack.adapter import PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=build_policies())
