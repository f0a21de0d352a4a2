"""What a lab is made of: addresses, ports, data size. Pure; compared on a second `up`."""

from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Port = Annotated[int, Field(ge=1024, le=65535)]

OS_USER_WHEN_ROOT = "crmdr-lab"
INTAKE_PORT = 8080


class LabSettings(BaseModel):
    """Defaults avoid well-known ports: a system sshd on 0.0.0.0:22 would collide."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary_ip: IPv4Address = IPv4Address("127.0.0.11")
    standby_ip: IPv4Address = IPv4Address("127.0.0.12")
    aws_ip: IPv4Address = IPv4Address("127.0.0.10")
    app_ip: IPv4Address | None = None
    """An application host (its own sshd and env file) that failovers re-point; None: no app host."""
    ssh_port: Port = 2222
    pg_port: Port = 5433
    aws_port: Port = 4566
    status_port: Port = 8080
    dns_port: Port = 5353
    """The lab DNS server (UDP and TCP) on the AWS stand-in's address: where applications resolve the DB name."""
    dns_ttl: int = Field(default=5, ge=1, le=60)
    """TTL of the DB name's records: clients cache an answer that long, so a drill's RTO includes up to it."""
    dns_refresh: float = Field(default=1.0, gt=0, le=60)
    """Seconds between the lab DNS server's reads of the zone: how long a changed record takes to be
    answered (Route 53's propagation to its name servers, in the lab); each read is 2-3 requests to moto."""
    rows: int = Field(default=200, ge=1, le=10_000_000)
    seed: int = 42
    synchronous: bool = False
    primary_region: str = "us-east-1"
    dr_region: str = "us-west-2"
    stack: str = "lab"
    sla_tier: str = "gold"
    network: Literal["auto", "netns", "loopback"] = "auto"
    """auto: each host in a network namespace of its own when root, else loopback (drills/lab/network.py)."""

    @model_validator(mode="after")
    def _loopback_and_distinct(self) -> "LabSettings":
        addresses = [self.primary_ip, self.standby_ip, self.aws_ip, *([self.app_ip] if self.app_ip else [])]
        if not all(address.is_loopback for address in addresses):
            raise ValueError("expected loopback addresses (127.x.y.z) for the lab hosts")
        if self.primary_ip == self.standby_ip:
            raise ValueError("expected distinct addresses for the primary and the standby")
        if self.app_ip in (self.primary_ip, self.standby_ip, self.aws_ip):
            raise ValueError("expected the app host's address to differ from the other lab hosts")
        if self.intake_ip in (self.primary_ip, self.standby_ip, self.app_ip):
            raise ValueError("expected the intake's address (the AWS address + 5) to differ from the lab hosts")
        if self.primary_region == self.dr_region:
            raise ValueError("expected the DR region to differ from the primary region")
        return self

    @property
    def status_ip(self) -> IPv4Address:
        """The status page's own address: the AWS stand-in's + 4 (the lab's address contract)."""
        return self.aws_ip + 4

    @property
    def intake_ip(self) -> IPv4Address:
        """The downtime intake service's address: the AWS stand-in's + 5 (port INTAKE_PORT)."""
        return self.aws_ip + 5

    def differences(self, other: "LabSettings") -> list[str]:
        """Fields whose values differ, for the 'already up with other settings' refusal."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [f"{key}={theirs[key]} (running) vs {mine[key]}" for key in mine if mine[key] != theirs[key]]


class LabPaths:
    """Where each part of a lab lives under its directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.state = self.root / "lab.json"
        self.inventory = self.root / "inventory.json"
        self.secrets = self.root / "secrets"
        self.client_key = self.root / "ssh" / "id_ed25519"
        self.aws_log = self.root / "aws" / "moto.log"
        self.status_log = self.root / "status" / "server.log"
        self.dns_log = self.root / "dns" / "dns.log"
        self.dns_cache = self.root / "dns" / "zone.json"

    def host(self, name: str) -> Path:
        return self.root / "hosts" / name

    def data_dir(self, name: str) -> Path:
        return self.host(name) / "pgdata"

    def ssh_dir(self, name: str) -> Path:
        return self.host(name) / "ssh"

    def app_config(self) -> Path:
        """The app host's env file (CRMDR_DB_HOST=...), in a directory its SSH user owns."""
        return self.host("app") / "etc" / "crm.env"
