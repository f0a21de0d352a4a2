"""Guardrails: pure rules that judge declared cloud resources against an SLA tier.

A rule sees plain data (a resource's Pulumi type token, its input properties under the
engine's camelCase names, its region) and the context (tier, primary region, strategy), and
returns a reason, or None when the resource complies. `crmdr plan` runs them over the mocked
program; the policy pack in `policies/pack/` wraps the same functions for `pulumi preview`
and `pulumi up`. Nothing here imports Pulumi.
"""

from collections.abc import Sequence

from policies.guardrails.model import (
    GuardrailContext,
    ResourceRule,
    ResourceView,
    StackRule,
    Verdict,
)
from policies.guardrails.resources import RESOURCE_RULES
from policies.guardrails.stack import STACK_RULES, strategy_limitation

__all__ = [
    "RESOURCE_RULES",
    "STACK_RULES",
    "GuardrailContext",
    "ResourceRule",
    "ResourceView",
    "StackRule",
    "Verdict",
    "evaluate",
    "rule_names",
    "strategy_limitation",
    "violations",
]


def evaluate(resources: Sequence[ResourceView], ctx: GuardrailContext) -> list[Verdict]:
    """Every rule's verdict: one per matching resource, then one per stack rule."""
    verdicts = [
        Verdict(rule.name, rule.check(resource, ctx), resource["name"], resource["type"], resource["region"])
        for rule in RESOURCE_RULES
        for resource in resources
        if resource["type"] in rule.types
    ]
    verdicts.extend(Verdict(rule.name, rule.check(resources, ctx)) for rule in STACK_RULES)
    return verdicts


def violations(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [verdict for verdict in verdicts if not verdict.passed]


def rule_names() -> list[str]:
    return [rule.name for rule in RESOURCE_RULES] + [rule.name for rule in STACK_RULES]
