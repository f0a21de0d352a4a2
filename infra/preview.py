"""Run the Pulumi program offline, under mocks, the way `pulumi up` would run it.

`run_program` executes the `infra/` directory with `runpy` (as Pulumi's Python host does)
inside a fresh context with mocks and config set first, and returns every registered
resource with its component and region, plus the stack outputs. `plan` adds the stack
config file (Pulumi.<stack>.yaml) and the guardrail verdicts: it is what `crmdr plan` shows.
"""

import contextvars
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.settings import get_root_resource

from infra.mocks import AwsMocks, RecordingMonitor, Registration, region_of
from infra.settings import NAMESPACE, PASSWORD_KEY, Deployment, parse_settings, resolve
from policies.documents import read_document
from policies.errors import ConfigError
from policies.guardrails import GuardrailContext, ResourceView, Verdict, evaluate

PROGRAM_DIR = Path(__file__).resolve().parent
PROJECT = "crm-dr"
OFFLINE_STAND_IN = "plan-placeholder-not-a-password"


@dataclass(frozen=True)
class PlannedResource:
    """A custom resource: what it is, where it runs, which component declared it."""

    type: str
    name: str
    region: str | None
    component: str | None
    component_type: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    def view(self) -> ResourceView:
        return ResourceView(type=self.type, name=self.name, region=self.region, props=self.inputs)


@dataclass(frozen=True)
class Preview:
    """The program's resources (providers and components excluded) and its stack outputs."""

    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def of_type(self, token: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == token]

    def named(self, token: str, name: str) -> PlannedResource:
        matches = [resource for resource in self.of_type(token) if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"expected one {token} named {name!r}, found {len(matches)}")
        return matches[0]


def run_program(
    config: Mapping[str, str],
    *,
    stack: str = "test",
    secret_keys: tuple[str, ...] = (),
    monitor: RecordingMonitor | None = None,
) -> Preview:
    """Run `infra/` under mocks. `config` keys are namespaced (`crm-dr:strategy`), values text.

    Raises ConfigError when the program rejects its configuration (before any resource).
    A fresh context per run keeps Pulumi's global state (root stack, config) from leaking
    between runs in one process.
    """
    monitor = monitor or RecordingMonitor(AwsMocks())
    return contextvars.Context().run(_run, dict(config), stack, secret_keys, monitor)


def _run(config: dict[str, str], stack: str, secret_keys: tuple[str, ...], monitor: RecordingMonitor) -> Preview:
    pulumi.runtime.set_mocks(monitor.aws_mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, list(secret_keys))
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        runpy.run_path(str(PROGRAM_DIR), run_name="__main__")
        root = get_root_resource()
        exported = getattr(root, "outputs", {})
        return pulumi.Output.from_input(exported).apply(outputs.update)

    try:
        program()
    except pulumi.RunError as error:
        if isinstance(error.__cause__, ConfigError):
            raise error.__cause__ from None
        raise
    return Preview(stack, _resources(monitor.registrations), outputs)


def _resources(registrations: list[Registration]) -> list[PlannedResource]:
    by_urn = {registration.urn: registration for registration in registrations}
    regions = {
        registration.urn: registration.inputs.get("region")
        for registration in registrations
        if registration.type.startswith("pulumi:providers:")
    }
    planned = []
    for registration in registrations:
        if not registration.custom or registration.type.startswith("pulumi:providers:"):
            continue
        component = _component_of(registration, by_urn)
        provider_urn = (registration.provider or "").rpartition("::")[0]
        planned.append(
            PlannedResource(
                type=registration.type,
                name=registration.name,
                region=regions.get(provider_urn) or region_of(registration.provider),
                component=component.name if component else None,
                component_type=component.type if component else None,
                inputs=registration.inputs,
                outputs=registration.outputs,
            )
        )
    return planned


def _component_of(registration: Registration, by_urn: dict[str, Registration]) -> Registration | None:
    """The nearest component (non-custom, non-stack) ancestor of a resource."""
    parent = by_urn.get(registration.parent or "")
    while parent is not None and (parent.custom or parent.type == "pulumi:pulumi:Stack"):
        parent = by_urn.get(parent.parent or "")
    return parent


@dataclass(frozen=True)
class StackConfig:
    """A stack config file read for an offline run."""

    path: Path
    stack: str
    values: dict[str, str]
    secret_keys: tuple[str, ...]
    deployment: Deployment
    notes: list[str] = field(default_factory=list)


def load_stack_config(path: Path, overrides: Mapping[str, str] | None = None) -> StackConfig:
    """Read `Pulumi.<stack>.yaml` (plus `--set` overrides, keys without the namespace);
    ConfigError names the file, the line and the key."""
    data, root = read_document(path, what="stack config")
    config = data.get("config")
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a 'config' mapping of {NAMESPACE}:... keys")
    ours = {
        key.partition(":")[2]: value
        for key, value in config.items()
        if isinstance(key, str) and key.startswith(f"{NAMESPACE}:")
    }
    ours.update(overrides or {})
    source = f"{path} (with --set)" if overrides else str(path)
    secrets = {key for key, value in ours.items() if _is_secure(value)}
    notes = [f"{NAMESPACE}:{key} is a secret: a placeholder stands in for it offline" for key in sorted(secrets)]
    if PASSWORD_KEY not in ours:
        notes.append(
            f"{NAMESPACE}:{PASSWORD_KEY} is not set: a placeholder stands in for it offline "
            f"(pulumi up requires: pulumi config set --secret {NAMESPACE}:{PASSWORD_KEY})"
        )
        secrets.add(PASSWORD_KEY)
    plain = {key: value for key, value in ours.items() if key not in secrets}
    settings = parse_settings(
        {key: value for key, value in plain.items() if key != PASSWORD_KEY},
        source=source,
        root=None if overrides else root,
        under=("config",),
    )
    stack = _stack_name(path)
    deployment = resolve(settings, project=PROJECT, stack=stack, source=source)
    values = {f"{NAMESPACE}:{key}": _as_config_text(value) for key, value in plain.items()}
    values.update({f"{NAMESPACE}:{key}": OFFLINE_STAND_IN for key in secrets})
    keys = tuple(f"{NAMESPACE}:{key}" for key in sorted(secrets))
    return StackConfig(path, stack, values, keys, deployment, notes)


@dataclass(frozen=True)
class Plan:
    """An offline run and its guardrail verdicts."""

    config: StackConfig
    preview: Preview
    verdicts: list[Verdict]


def plan(path: Path, overrides: Mapping[str, str] | None = None) -> Plan:
    """What `crmdr plan` shows: resources per region and component, and the verdicts."""
    config = load_stack_config(path, overrides)
    preview = run_program(config.values, stack=config.stack, secret_keys=config.secret_keys)
    deployment = config.deployment
    context = GuardrailContext(
        tier_name=deployment.tier_name,
        tier=deployment.tier,
        primary_region=deployment.settings.primary_region,
        strategy=deployment.settings.strategy,
    )
    verdicts = evaluate([resource.view() for resource in preview.resources], context)
    return Plan(config, preview, verdicts)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _as_config_text(value: Any) -> str:
    """Pulumi passes config to programs as text: JSON for structures, lowercase booleans."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _stack_name(path: Path) -> str:
    parts = path.name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "Pulumi" else "plan"
