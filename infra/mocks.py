"""Pulumi mocks that answer like AWS would, closely enough to run the program offline.

Outputs the program reads back (ARNs, endpoints, generated names) get plausible values in
the resource's own region, so the inventory, the IAM documents and the guardrails see
the shapes they would see after `pulumi up`. The monitor also records each registration's
parent and provider, which Pulumi's own mock monitor drops, so a preview can say which
component and which region every resource belongs to.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

ACCOUNT = "123456789012"
PROVIDER_ID_PREFIX = "provider-"
AVAILABILITY_ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"


def region_of(provider_reference: str | None) -> str | None:
    """The region of a provider reference `URN::ID` (the mocks make the ID `provider-REGION`)."""
    if not provider_reference:
        return None
    _, _, provider_id = provider_reference.rpartition("::")
    if provider_id.startswith(PROVIDER_ID_PREFIX):
        return provider_id[len(PROVIDER_ID_PREFIX) :]
    return None


def _suffix(name: str, size: int = 7) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:size]


def _generic(kind: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    service, _, rest = kind.partition(":")[2].partition("/")
    noun = rest.partition(":")[0].lower()
    physical = inputs.get("name") or f"{name}-{_suffix(name)}"
    return {"name": physical, "arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{noun}/{physical}"}


def _rds(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    identifier = inputs.get("identifier") or f"{name}-{_suffix(name)}"
    address = f"{identifier}.c{_suffix(region, 10)}.{region}.rds.amazonaws.com"
    return {
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:5432",
        "port": 5432,
        "arn": f"arn:aws:rds:{region}:{ACCOUNT}:db:{identifier}",
    }


def _kms(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    primary = str(inputs.get("primaryKeyArn") or "")
    key_id = primary.rpartition("/")[2] if primary else f"mrk-{_suffix(name, 32)}"
    return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"}


def _outputs(kind: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """What AWS would add to the inputs of a new resource of type `kind`."""
    if kind == "aws:rds/instance:Instance":
        return _rds(name, inputs, region)
    if kind in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
        return _kms(name, inputs, region)
    if kind == "aws:s3/bucketV2:BucketV2":
        bucket = inputs.get("bucket") or f"{name}-{_suffix(name)}"
        return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    generic = _generic(kind, name, inputs, region)
    physical = generic["name"]
    special: dict[str, dict[str, Any]] = {
        "aws:backup/vault:Vault": {"arn": f"arn:aws:backup:{region}:{ACCOUNT}:backup-vault:{physical}"},
        "aws:dynamodb/table:Table": {"arn": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{physical}"},
        "aws:sns/topic:Topic": {"arn": f"arn:aws:sns:{region}:{ACCOUNT}:{physical}"},
        "aws:secretsmanager/secret:Secret": {
            "arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{physical}-{_suffix(name, 6)}"
        },
        "aws:iam/role:Role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}"},
        "aws:route53/zone:Zone": {"zoneId": f"Z{_suffix(name, 12).upper()}"},
        "aws:lb/loadBalancer:LoadBalancer": {
            "dnsName": f"{physical[:20]}-{int(_suffix(name), 16) % 10**9}.{region}.elb.amazonaws.com"
        },
        "aws:ecs/taskDefinition:TaskDefinition": {
            "arn": f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{inputs.get('family', physical)}:1"
        },
    }
    return {**generic, **special.get(kind, {})}


@dataclass(frozen=True)
class Registration:
    """One registered resource as the engine would know it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class AwsMocks(Mocks):
    """Answers resource registrations and the one invoke the program makes."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.outputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.inputs[(args.typ, args.name)] = inputs
        if args.typ.startswith("pulumi:providers:"):
            return f"{PROVIDER_ID_PREFIX}{inputs.get('region', 'unknown')}", inputs
        if not args.custom:
            return None, inputs
        region = region_of(args.provider) or "default-provider"
        outputs = {**inputs, **_outputs(args.typ, args.name, inputs, region)}
        self.outputs[(args.typ, args.name)] = outputs
        resource_id = outputs.get("bucket") or outputs.get("zoneId") or f"{args.name}-id"
        return str(resource_id), outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == AVAILABILITY_ZONES:
            region = region_of(args.provider) or "default-provider"
            names = [f"{region}{letter}" for letter in "abc"]
            return {"id": region, "names": names, "zoneIds": names, "groupNames": names}, []
        return {}, []


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, remembering parents, providers and inputs of registrations."""

    def __init__(self, mocks: AwsMocks) -> None:
        super().__init__(mocks)
        self.aws_mocks = mocks
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=self.aws_mocks.inputs.get((request.type, request.name), {}),
                outputs=self.aws_mocks.outputs.get((request.type, request.name), {}),
            )
        )
        return response
