"""Invalid stack configuration stops the program before it declares a single resource."""

from pathlib import Path

import pytest

from infra.mocks import AwsMocks, RecordingMonitor
from infra.preview import load_stack_config, run_program
from policies.errors import ConfigError
from tests.infra.conftest import INFRA, preview, stack_config

pytestmark = INFRA


def _rejected(**overrides: object) -> tuple[str, RecordingMonitor]:
    monitor = RecordingMonitor(AwsMocks())
    config = stack_config(**overrides)
    with pytest.raises(ConfigError) as error:
        run_program(config, stack="bad", secret_keys=("crm-dr:dbPassword",), monitor=monitor)
    return str(error.value), monitor


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"drRegion": "eu-west-1"}, ["crm-dr:drRegion", "not off-site"]),
        ({"strategy": "active-active"}, ["crm-dr:strategy", "'pilot-light'", "active-active"]),
        ({"slaTier": "platinum"}, ["crm-dr:slaTier", "platinum", "bronze, gold, silver"]),
        ({"dnsTtl": 300}, ["crm-dr:dnsTtl", "60"]),
        ({"appMinSize": 5}, ["crm-dr:appDesiredCapacity", "appMinSize (5)"]),
        ({"drVpcCidr": "10.20.128.0/17"}, ["crm-dr:drVpcCidr", "overlap"]),
        ({"primaryRegion": "Ireland"}, ["crm-dr:primaryRegion", "Ireland"]),
        ({"dbPassword": None}, ["crm-dr:dbPassword", "pulumi config set --secret crm-dr:dbPassword"]),
    ],
)
def test_invalid_config_fails_with_a_clear_message_before_any_resource(
    overrides: dict[str, object], names: list[str]
) -> None:
    message, monitor = _rejected(**overrides)
    assert message.startswith("Pulumi.bad.yaml: ")
    for name in names:
        assert name in message
    declared = [r.type for r in monitor.registrations if r.type != "pulumi:pulumi:Stack"]
    assert declared == [], "nothing, not even a provider, was declared"


def test_a_vault_lock_weaker_than_the_tier_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "tiers.yaml"
    policy.write_text(
        "version: 1\ntiers:\n  strict:\n    rto: 1h\n    rpo: 15m\n    backup_frequency: 6h\n    retention: 90d\n"
        "    max_replication_lag: 1m\n    status_notice_every: 30m\n    object_lock_mode: COMPLIANCE\n"
        "    drills: {backup-verify: 1d, restore-test: 30d, failover: 90d}\n"
    )
    message, monitor = _rejected(
        slaTier="strict", policyFile=policy, vaultLockMode="GOVERNANCE", strategy="pilot-light"
    )
    assert "crm-dr:vaultLockMode" in message and "weaker" in message
    assert [r for r in monitor.registrations if r.type != "pulumi:pulumi:Stack"] == []
    run = preview(slaTier="strict", policyFile=policy, strategy="pilot-light")
    lock = run.named("aws:backup/vaultLockConfiguration:VaultLockConfiguration", "dr-offsite-vault-lock")
    assert (lock.inputs["minRetentionDays"], lock.inputs["changeableForDays"]) == (90, 3)
    assert run.named("aws:rds/instance:Instance", "primary-crm-db").inputs["backupRetentionPeriod"] == 35


def test_a_stack_config_file_error_names_the_file_the_line_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(
        "config:\n"
        "  crm-dr:primaryRegion: eu-west-1\n"
        "  crm-dr:drRegion: eu-central-1\n"
        "  crm-dr:strategy: hot-standby\n"
        "  crm-dr:slaTier: gold\n"
    )
    with pytest.raises(ConfigError) as error:
        load_stack_config(path)
    assert str(error.value).startswith(f"{path}: line 4: field 'crm-dr:strategy': ")
    path.write_text(path.read_text().replace("hot-standby", "warm-standby") + "  crm-dr:dnsZone: example.com\n")
    with pytest.raises(ConfigError) as error:
        load_stack_config(path)
    assert str(error.value) == f"{path}: line 6: field 'crm-dr:dnsZone' is not a known field"
