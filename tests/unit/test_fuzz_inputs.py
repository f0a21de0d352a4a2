"""Bad input, fuzzed: hypothesis mutates valid files the toolkit reads (inventory JSON and YAML,
policy YAML, the run journal behind --resume), by structure (a node replaced or deleted) and by
bytes (truncated, spliced, flipped). Loading either succeeds or raises ConfigError in one line
naming the file; never another exception, and the file is left as it was. Not yet fuzzed here:
the stack config, the recovery point manifest and report directories."""

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.errors import ConfigError, DrError
from policies.sla import load_policy
from recovery.inventory import load_inventory
from recovery.runbooks.failover import FAILOVER
from recovery.runbooks.journal.events import Event
from recovery.runbooks.run import Options, _resumed
from tests.conftest import ROOT, crmdr, make_inventory

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FIGURES: Counter[str] = Counter()
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                   max_size=3), max_leaves=6)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*at, index))
    return found


@st.composite
def mutated_tree(draw: st.DrawFn, tree: Any) -> Any:
    """Replace or delete one node anywhere in a parsed document."""
    tree = json.loads(json.dumps(tree))
    path = draw(st.sampled_from(_paths(tree)))
    if not path:
        return draw(JSONISH)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSONISH)
    return tree


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> bytes:
    """Byte-level damage: truncate, splice random bytes in, or flip one byte."""
    data = bytearray(text.encode())
    at = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(["truncate", "splice", "flip"]))
    if kind == "truncate":
        return bytes(data[:at])
    if kind == "splice":
        return bytes(data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:])
    if at < len(data):
        data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


def _check(path: Path, data: bytes, load: Callable[[Path], Any], kind: str,
           allowed: tuple[type[DrError], ...] = (ConfigError,)) -> None:
    """The property, for one input."""
    FIGURES[kind] += 1
    path.write_bytes(data)
    try:
        load(path)
    except allowed as err:
        message = str(err)
        assert "\n" not in message.strip(), message
        assert (path.stem if kind == "journal" else path.name) in message, message
    assert path.read_bytes() == data


INVENTORY = make_inventory().model_dump(mode="json", exclude_none=True)
POLICY = yaml.safe_load((ROOT / "policies" / "tiers.yaml").read_text())


@FUZZ
@given(st.one_of(mutated_tree(INVENTORY).map(lambda t: json.dumps(t).encode()),
                 mutated_text(json.dumps(INVENTORY, indent=2))))
def test_inventory_json(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _check(tmp_path_factory.mktemp("inv") / "inventory.json", data, load_inventory, "inventory.json")


@FUZZ
@given(st.one_of(mutated_tree(INVENTORY).map(lambda t: yaml.safe_dump(t).encode()),
                 mutated_text(yaml.safe_dump(INVENTORY))))
def test_inventory_yaml(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _check(tmp_path_factory.mktemp("inv") / "inventory.yaml", data, load_inventory, "inventory.yaml")


@FUZZ
@given(st.one_of(mutated_tree(POLICY).map(lambda t: yaml.safe_dump(t).encode()),
                 mutated_text((ROOT / "policies" / "tiers.yaml").read_text())))
def test_policy_yaml(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _check(tmp_path_factory.mktemp("pol") / "tiers.yaml", data, load_policy, "policy")


def _journal() -> list[dict[str, Any]]:
    base = {"run": "failover-1", "runbook": "failover", "attempt": 1, "wall": "2026-01-01T00:00:00.000+00:00",
            "mono": 1.0, "reason": "", "evidence": "", "phase": "", "drill": False}
    return [{**base, "step": "run", "status": "started", "evidence": '{"accept_data_loss": false, "stack": "test"}'},
            {**base, "step": "fence", "status": "started", "phase": "fence"},
            {**base, "step": "fence", "status": "succeeded", "phase": "fence"}]


def _resume(path: Path) -> Any:
    return _resumed(FAILOVER, Options(resume=path.stem, journal_dir=path.parent), "test")


@FUZZ
@given(st.one_of(mutated_tree(_journal()).map(lambda t: "\n".join(json.dumps(e) for e in t).encode()
                                              if isinstance(t, list) else json.dumps(t).encode()),
                 mutated_text("\n".join(Event(**e).to_line() for e in _journal()) + "\n")))
def test_resume_of_a_damaged_journal(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _check(tmp_path_factory.mktemp("runs") / "failover-1.jsonl", data, _resume, "journal")


def test_figures_are_recorded() -> None:
    print(f"fuzzed inputs per file type: {dict(FIGURES)}")
    assert sum(FIGURES.values()) == 0 or FIGURES["inventory.json"] > 0


@pytest.mark.parametrize(("args", "content"), [
    (("policy", "check"), b"tiers:\n  gold: [\n"),
    (("inventory", "check"), b'{"stack": '),
    (("failover", "--yes", "--resume", "failover-1", "--inventory"), b"- not a mapping\n"),
])
def test_the_cli_answers_bad_files_with_exit_2_and_no_traceback(tmp_path: Path, args: tuple[str, ...],
                                                                 content: bytes) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)

    done = crmdr(*args, str(bad))

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "bad.yaml" in done.stderr
    assert bad.read_bytes() == content
