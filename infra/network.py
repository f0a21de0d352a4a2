"""One region's network: a VPC across two AZs, public and private subnets, security groups.

Instantiated once per region (the region comes from the `providers=` option). With an
existing VPC the component only adds the security groups, so a platform team can keep its
own network and still get the DR posture.
"""

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_aws as aws

from infra.settings import ExistingVpc

AZ_COUNT = 2
POSTGRES_PORT = 5432
ANYWHERE = "0.0.0.0/0"


def subnet_layout(cidr: IPv4Network) -> tuple[list[str], list[str]]:
    """Quarter the VPC: two public subnets, then two private ones (one per AZ)."""
    quarters = [str(net) for net in cidr.subnets(prefixlen_diff=2)]
    return quarters[:AZ_COUNT], quarters[AZ_COUNT : 2 * AZ_COUNT]


@dataclass(frozen=True)
class NetworkArgs:
    cidr: IPv4Network
    app_port: int
    existing: ExistingVpc | None = None


class Network(pulumi.ComponentResource):
    """VPC, subnets, routes and the four security groups (ALB, app, database, drill runner)."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    alb_sg_id: pulumi.Output[str]
    app_sg_id: pulumi.Output[str]
    db_sg_id: pulumi.Output[str]
    runner_sg_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.existing is not None:
            self.vpc_id = pulumi.Output.from_input(args.existing.id)
            self.public_subnet_ids = [pulumi.Output.from_input(s) for s in args.existing.public_subnet_ids]
            self.private_subnet_ids = [pulumi.Output.from_input(s) for s in args.existing.private_subnet_ids]
        else:
            self._create_vpc(name, args.cidr, child)
        self._create_security_groups(name, args, child)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _create_vpc(self, name: str, cidr: IPv4Network, child: pulumi.ResourceOptions) -> None:
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        self.vpc_id = vpc.id
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        public_cidrs, private_cidrs = subnet_layout(cidr)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        self.public_subnet_ids = []
        self.private_subnet_ids = []
        for index in range(AZ_COUNT):
            zone = zones.names.apply(_nth(index))
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=zone,
                tags={"Name": f"{name}-public-{index}", "crm-dr:tier": "public"},
                opts=child,
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[index],
                availability_zone=zone,
                tags={"Name": f"{name}-private-{index}", "crm-dr:tier": "private"},
                opts=child,
            )
            self.public_subnet_ids.append(public.id)
            self.private_subnet_ids.append(private.id)
        self._create_routes(name, vpc, gateway, child)

    def _create_routes(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        gateway: aws.ec2.InternetGateway,
        child: pulumi.ResourceOptions,
    ) -> None:
        """Public subnets reach the internet directly; private ones through one NAT gateway."""
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, gateway_id=gateway.id)],
            opts=child,
        )
        address = aws.ec2.Eip(f"{name}-nat-ip", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            subnet_id=self.public_subnet_ids[0],
            allocation_id=address.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        private_routes = aws.ec2.RouteTable(
            f"{name}-private-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, nat_gateway_id=nat.id)],
            opts=child,
        )
        for kind, table, subnets in (
            ("public", public_routes, self.public_subnet_ids),
            ("private", private_routes, self.private_subnet_ids),
        ):
            for index, subnet in enumerate(subnets):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{kind}-rta-{index}",
                    route_table_id=table.id,
                    subnet_id=subnet,
                    opts=child,
                )

    def _create_security_groups(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        def group(
            kind: str, description: str, ingress: list[aws.ec2.SecurityGroupIngressArgs], egress: bool
        ) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{kind}-sg",
                vpc_id=self.vpc_id,
                description=description,
                ingress=ingress,
                egress=[_OUTBOUND] if egress else [],
                opts=child,
            )

        alb = group(
            "alb",
            "CRM load balancer: HTTP(S) from clients",
            [_tcp(80, cidr=ANYWHERE), _tcp(443, cidr=ANYWHERE)],
            egress=True,
        )
        app = group(
            "app", "CRM app servers: from the load balancer only", [_tcp(args.app_port, groups=[alb.id])], egress=True
        )
        runner = group("runner", "Drill runner tasks: outbound only", [], egress=True)
        database = group(
            "db",
            "PostgreSQL: from app servers and drill runners only",
            [_tcp(POSTGRES_PORT, groups=[app.id, runner.id])],
            egress=False,
        )
        self.alb_sg_id, self.app_sg_id = alb.id, app.id
        self.runner_sg_id, self.db_sg_id = runner.id, database.id


def _nth(index: int) -> Callable[[list[str]], str]:
    def pick(names: list[str]) -> str:
        return names[index]

    return pick


_OUTBOUND = aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[ANYWHERE])


def _tcp(
    port: int, *, cidr: str | None = None, groups: list[pulumi.Output[str]] | None = None
) -> aws.ec2.SecurityGroupIngressArgs:
    return aws.ec2.SecurityGroupIngressArgs(
        protocol="tcp",
        from_port=port,
        to_port=port,
        cidr_blocks=[cidr] if cidr else None,
        security_groups=groups,
    )
