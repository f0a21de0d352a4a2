"""The policy pack wraps the same pure rules, with context read from the providers' tags."""

import json
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UnknownValueError, unknown_checking_proxy

from policies.guardrails import rule_names
from policies.pack.adapter import build_policies
from tests.infra.conftest import INFRA, preview_for

pytestmark = INFRA

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
TAGS = {"crm-dr:tier": "gold", "crm-dr:strategy": "warm-standby"}


def provider(role: str | None, region: str) -> PolicyProviderResource:
    tags = {**TAGS, "crm-dr:role": role} if role else {}
    props = {"region": region, "defaultTags": json.dumps({"tags": tags})}
    return PolicyProviderResource("pulumi:providers:aws", props, f"urn:provider:{role}", f"aws-{role}")


def policies() -> dict[str, Any]:
    return {policy.name: policy for policy in build_policies()}


def validate_resource(name: str, kind: str, props: Any, owner: PolicyProviderResource) -> list[str]:
    policy = policies()[name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    policy.validate(
        ResourceValidationArgs(kind, props, "urn:x", "x", OPTIONS, owner), lambda message, urn: found.append(message)
    )
    return found


def test_the_pack_has_one_mandatory_policy_per_rule() -> None:
    assert [policy.name for policy in build_policies()] == rule_names()


def test_a_resource_rule_reports_the_pure_rules_reason() -> None:
    short = {
        "engine": "postgres",
        "multiAz": True,
        "storageEncrypted": True,
        "deletionProtection": True,
        "backupRetentionPeriod": 7,
    }
    primary = provider("primary", "eu-west-1")
    [reason] = validate_resource("rds-backup-retention", "aws:rds/instance:Instance", short, primary)
    assert "7 day(s)" in reason and "tier 'gold' needs 35" in reason
    compliant = {**short, "backupRetentionPeriod": 35}
    assert validate_resource("rds-backup-retention", "aws:rds/instance:Instance", compliant, primary) == []


def test_resources_outside_a_crm_dr_stack_are_left_alone() -> None:
    untagged = provider(None, "eu-west-1")
    bare = {"storageEncrypted": False}
    assert validate_resource("rds-encrypted", "aws:rds/instance:Instance", bare, untagged) == []


def test_unknown_values_during_preview_are_left_to_pulumi() -> None:
    props = unknown_checking_proxy({"backupRetentionPeriod": UNKNOWN_NUMBER_VALUE})
    with pytest.raises(UnknownValueError):
        validate_resource("rds-backup-retention", "aws:rds/instance:Instance", props, provider("primary", "eu-west-1"))


def _stack_resources(drop: str | None = None) -> list[PolicyResource]:
    owners = {"eu-west-1": provider("primary", "eu-west-1"), "eu-central-1": provider("dr", "eu-central-1")}
    return [
        PolicyResource(r.type, r.inputs, f"urn:{r.name}", r.name, OPTIONS, owners[str(r.region)], None, [], {})
        for r in preview_for("warm-standby").resources
        if r.type != drop
    ]


def validate_stack(name: str, resources: list[PolicyResource]) -> list[str]:
    policy = policies()[name]
    assert isinstance(policy, StackValidationPolicy)
    found: list[str] = []
    policy.validate(StackValidationArgs(resources), lambda message, urn: found.append(message))
    return found


def test_stack_rules_pass_on_the_program_and_catch_a_missing_off_site_lock() -> None:
    complete = _stack_resources()
    for name in ("offsite-backup-vault", "offsite-object-lock", "standby-matches-strategy", "strategy-fits-tier"):
        assert validate_stack(name, complete) == [], name
    unlocked = _stack_resources(drop="aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert validate_stack("offsite-backup-vault", unlocked) == [
        "no locked backup vault outside the primary region eu-west-1"
    ]
