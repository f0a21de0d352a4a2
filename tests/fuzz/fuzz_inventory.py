"""A coverage-guided fuzzer (atheris, libFuzzer) over `load_inventory`; not part of pytest.

The property is the hypothesis one of tests/unit/test_fuzz_inputs.py: any bytes, as an
inventory JSON or YAML file, load or raise ConfigError in one line naming the file. Any
other exception is a crash libFuzzer keeps (crash-<sha1> in the working directory).

Run by hand (atheris is not a dependency: `.venv/bin/pip install atheris`):

    mkdir -p /tmp/inventory-corpus
    .venv/bin/python tests/fuzz/fuzz_inventory.py /tmp/inventory-corpus -max_total_time=300

An empty corpus directory is seeded with a valid inventory in JSON and in YAML. The first
input byte picks the format (even: .json, odd: .yaml). Replay a crash with
`.venv/bin/python tests/fuzz/fuzz_inventory.py crash-<sha1>`.
"""

import json
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import yaml

    from policies.errors import ConfigError
    from recovery.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(tempfile.mkdtemp(prefix="crmdr-atheris-"))


def seed(corpus: Path) -> None:
    """A valid inventory in both formats, so the fuzzer starts from the accepted shape."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import make_inventory

    body = make_inventory().model_dump(mode="json", exclude_none=True)
    (corpus / "seed-json").write_bytes(b"\x00" + json.dumps(body, indent=2).encode())
    (corpus / "seed-yaml").write_bytes(b"\x01" + yaml.safe_dump(body).encode())


def test_one_input(data: bytes) -> None:
    if not data:
        return
    path = WORK / ("inventory.yaml" if data[0] % 2 else "inventory.json")
    path.write_bytes(data[1:])
    try:
        load_inventory(path)
    except ConfigError as err:
        message = str(err).strip()
        if "\n" in message or path.name not in message:
            raise AssertionError(f"unclear ConfigError: {message!r}") from None


def main() -> None:
    corpus = next((Path(arg) for arg in sys.argv[1:] if not arg.startswith("-") and Path(arg).is_dir()), None)
    if corpus is not None and not any(corpus.iterdir()):
        seed(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
