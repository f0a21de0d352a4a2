"""Builders for the infra tests: stack configs and (cached) offline runs of the program."""

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from infra.preview import Preview, run_program

INFRA = [
    pytest.mark.infra,
    # pulumi_aws.ec2 warns, when first loaded, about data sources this program never uses.
    pytest.mark.filterwarnings("ignore:aws.ec2/getvpciampool:DeprecationWarning"),
]

BASE_CONFIG: dict[str, str] = {
    "primaryRegion": "eu-west-1",
    "drRegion": "eu-central-1",
    "strategy": "warm-standby",
    "slaTier": "gold",
    "dnsZoneName": "example.com",
    "drillRunnerImage": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/crmdr:0.1.0",
    "dbPassword": "test-password-not-real",
}
TIER_FOR = {"backup-restore": "bronze", "pilot-light": "silver", "warm-standby": "gold"}


def stack_config(**overrides: Any) -> dict[str, str]:
    """Namespaced config as Pulumi hands it to a program (every value text)."""
    values = {**BASE_CONFIG, **{key: str(value) for key, value in overrides.items()}}
    return {f"crm-dr:{key}": value for key, value in values.items() if value != "None"}


@cache
def _preview(items: tuple[tuple[str, str], ...]) -> Preview:
    return run_program(dict(items), stack="test", secret_keys=("crm-dr:dbPassword",))


def preview(**overrides: Any) -> Preview:
    """The program run once per distinct config (runs are pure, so caching is safe)."""
    return _preview(tuple(sorted(stack_config(**overrides).items())))


def preview_for(strategy: str, **overrides: Any) -> Preview:
    """The program for a strategy with the tier that strategy is meant for."""
    return preview(strategy=strategy, slaTier=TIER_FOR[strategy], **overrides)


@pytest.fixture
def make_preview() -> Callable[..., Preview]:
    return preview
