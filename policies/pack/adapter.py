"""Adapt Pulumi's policy API to the pure guardrails: no rule logic lives here.

The context a rule needs comes from the stack itself: the program gives each region's AWS
provider default tags (`crm-dr:tier`, `crm-dr:strategy`, `crm-dr:role`), so the pack knows
the tier, the strategy and which region is primary without any pack configuration.
Resources whose provider carries no `crm-dr:tier` tag are not this toolkit's and are skipped.
`CRMDR_POLICY_FILE` points at another SLA policy file (default: the shipped tiers).
"""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyProviderResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.errors import ConfigError
from policies.guardrails import (
    RESOURCE_RULES,
    STACK_RULES,
    GuardrailContext,
    ResourceRule,
    ResourceView,
    StackRule,
)
from policies.sla import load_policy

PACK_NAME = "crm-dr-guardrails"
POLICY_FILE_ENV = "CRMDR_POLICY_FILE"


def provider_tags(provider: PolicyProviderResource | None) -> dict[str, str]:
    """The provider's default tags (Pulumi hands provider inputs over as JSON text)."""
    if provider is None:
        return {}
    default_tags: Any = provider.props.get("defaultTags") or {}
    if isinstance(default_tags, str):
        try:
            default_tags = json.loads(default_tags)
        except json.JSONDecodeError:
            return {}
    tags = default_tags.get("tags") if isinstance(default_tags, Mapping) else None
    return {str(key): str(value) for key, value in (tags or {}).items()}


def provider_region(provider: PolicyProviderResource | None) -> str | None:
    region = provider.props.get("region") if provider is not None else None
    return str(region) if region else None


def context(providers: Iterable[PolicyProviderResource | None]) -> GuardrailContext | None:
    """Tier, strategy and primary region from the providers' tags; None if not a crm-dr stack."""
    tier_name = strategy = primary = None
    for provider in providers:
        tags = provider_tags(provider)
        tier_name = tier_name or tags.get("crm-dr:tier")
        strategy = strategy or tags.get("crm-dr:strategy")
        if tags.get("crm-dr:role") == "primary":
            primary = primary or provider_region(provider)
    if tier_name is None:
        return None
    policy_file = os.environ.get(POLICY_FILE_ENV)
    tier = load_policy(Path(policy_file) if policy_file else None).tier(tier_name)
    return GuardrailContext(tier_name=tier_name, tier=tier, primary_region=primary, strategy=strategy)


def _view(kind: str, name: str, props: Mapping[str, Any], provider: PolicyProviderResource | None) -> ResourceView:
    return ResourceView(type=kind, name=name, region=provider_region(provider), props=props)


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    """One pure per-resource rule as a mandatory resource validation."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        try:
            ctx = context([args.provider])
        except ConfigError as error:
            report_violation(str(error), None)
            return
        if ctx is None:
            return
        reason = rule.check(_view(args.resource_type, args.name, args.props, args.provider), ctx)
        if reason:
            report_violation(reason, None)

    return ResourceValidationPolicy(name=rule.name, description=rule.description, validate=validate)


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    """One pure stack rule as a mandatory stack validation."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        try:
            ctx = context(resource.provider for resource in args.resources)
        except ConfigError as error:
            report_violation(str(error), None)
            return
        if ctx is None:
            return
        views = [
            _view(resource.resource_type, resource.name, resource.props, resource.provider)
            for resource in args.resources
        ]
        reason = rule.check(views, ctx)
        if reason:
            report_violation(reason, None)

    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate)


def build_policies() -> list[Policy]:
    """Every guardrail, in the order `crmdr plan` reports them."""
    return [*(resource_policy(rule) for rule in RESOURCE_RULES), *(stack_policy(rule) for rule in STACK_RULES)]
