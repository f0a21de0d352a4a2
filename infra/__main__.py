"""Entry point Pulumi runs (`main: infra/` in Pulumi.yaml runs this directory).

Pulumi executes the directory with `runpy`, which puts `infra/` itself first on sys.path.
That would let `infra/settings.py` shadow any top-level `settings` module and hide the
`infra`, `policies` and `recovery` packages, so the repository root takes its place. The
installed package (`pip install -e .`) works the same way.
"""

import sys
from pathlib import Path

_PROGRAM_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PROGRAM_DIR.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _PROGRAM_DIR]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import pulumi  # noqa: E402

from infra.program import main  # noqa: E402
from policies.errors import ConfigError  # noqa: E402

try:
    main()
except ConfigError as error:
    raise pulumi.RunError(str(error)) from error
