"""Bad input, fuzzed: the Pulumi stack config (`Pulumi.<stack>.yaml`, read by `crmdr plan
--config` and the program). Damaged by structure and by bytes, it either loads or raises
ConfigError in one line naming the file; never another exception, never a changed file."""

from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from infra.preview import load_stack_config
from policies.errors import ConfigError
from tests.conftest import ROOT
from tests.infra.conftest import INFRA
from tests.unit.test_fuzz_inputs import FUZZ, _check, mutated_text, mutated_tree

pytestmark = INFRA

EXAMPLE = (ROOT / "Pulumi.example.yaml").read_text()
FIGURES: Counter[str] = Counter()


@FUZZ
@given(st.one_of(mutated_tree(yaml.safe_load(EXAMPLE)).map(lambda t: yaml.safe_dump(t).encode()),
                 mutated_text(EXAMPLE)))
def test_stack_config(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    FIGURES["stack config"] += 1
    _check(tmp_path_factory.mktemp("stack") / "Pulumi.fuzz.yaml", data, load_stack_config, "stack config",
           (ConfigError,))


def test_the_example_loads_and_figures_are_recorded(tmp_path: Path) -> None:
    print(f"fuzzed stack configs: {dict(FIGURES)}")
    (tmp_path / "Pulumi.example.yaml").write_text(EXAMPLE)
    assert load_stack_config(tmp_path / "Pulumi.example.yaml").stack == "example"
