"""An in-memory world for the real failover runbook: two PostgreSQL nodes, DNS, lock, notices.

The fakes answer exactly what `recovery.runbooks.failover` asks of PgHost, Route53Dns,
DynamoLock, SnsNotifier and the journal mirror, with PostgreSQL's semantics reduced to what
decides a failover: who runs, who is read-only, who carries standby.signal, which
acknowledged writes each node holds, and when the standby last heard from its primary.
An SQL text the model does not know fails the test (AssertionError), so a new query in the
runbook cannot slip past it. `Crash` models the tool's process dying (os._exit): it is a
BaseException, so no `except DrError` sees it, and the lock stays held as after a real crash.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.errors import CloudError, HostError, Refused
from policies.sla import load_policy
from recovery.inventory import HostNode, Inventory
from recovery.ports import CommandResult, ObjectNotFound, StoredObject
from recovery.runbooks.decisions import Identity, Truth
from recovery.runbooks.site import Site
from tests.conftest import make_inventory

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
WAL_RECEIVER_TIMEOUT = 60.0


class Crash(BaseException):
    """The tool's process died here."""


@dataclass
class Node:
    """One PostgreSQL host as the model sees it."""

    name: str
    host: str
    running: bool = True
    recovery: bool = False
    signal: bool = False
    reachable: bool = True
    upstream: str | None = None
    sync_names: str = ""
    wal: list[int] = field(default_factory=list)
    markers: set[str] = field(default_factory=set)
    last_receipt: float | None = None

    @property
    def writable(self) -> bool:
        return self.reachable and self.running and not self.recovery


@dataclass
class Promotion:
    run: str
    target: str
    lost: dict[int, float]
    other_fenced: bool
    forced: bool
    accepted: bool
    at: float


class World:
    """The model's state, its faults, and every side effect the runbook had on it."""

    def __init__(self, *, synchronous: bool) -> None:
        self.inventory: Inventory = make_inventory(**{"database.synchronous": synchronous})
        self.synchronous = synchronous
        db = self.inventory.database
        assert isinstance(db.primary, HostNode) and isinstance(db.standby, HostNode)
        self.nodes = {
            db.primary.name: Node(db.primary.name, db.primary.host, sync_names="*" if synchronous else ""),
            db.standby.name: Node(db.standby.name, db.standby.host, recovery=True, signal=True,
                                  upstream=db.primary.name, last_receipt=0.0),
        }
        self.t = 0.0
        self.link_up = True
        self.dns = {"PRIMARY": db.primary.host, "SECONDARY": db.standby.host}
        self.lock: tuple[str, float] | None = None
        self.acked: dict[int, float] = {}
        self.next_write = 1
        self.effects = 0
        self.crash_after: int | None = None
        self.crash_step: str | None = None
        self.dead = False
        self.current_run_forced = False
        self.current_run_accepts = False
        self.ever_forced = False
        self.promotions: list[Promotion] = []
        self.effect_log: list[tuple[str, str]] = []
        self.objects: dict[str, bytes] = {}
        self.notices: list[str] = []

    # -- the world moving on its own -------------------------------------------------
    def by_host(self, address: str) -> Node | None:
        return next((n for n in self.nodes.values() if n.host == address), None)

    def streaming(self, standby: Node) -> Node | None:
        """The upstream `standby` streams from right now, if any."""
        up = self.nodes.get(standby.upstream or "")
        if up is None or not self.link_up or not standby.running or not standby.recovery:
            return None
        if not (up.running and up.reachable and standby.reachable):
            return None
        return up

    def settle(self) -> None:
        """Streaming replication: a connected standby holds its upstream's WAL."""
        for node in self.nodes.values():
            up = self.streaming(node)
            if up is not None and up.recovery is False:
                node.wal = list(up.wal)
                node.last_receipt = self.t

    def write(self) -> bool:
        """A client writes through the name; True when the write was acknowledged."""
        node = self.by_host(self.dns["PRIMARY"])
        if node is None or not node.writable:
            return False
        ident = self.next_write
        self.next_write += 1
        node.wal.append(ident)
        self.settle()
        synced = any(self.streaming(n) is node for n in self.nodes.values())
        if node.sync_names and self.synchronous and not synced:
            return False  # the commit waits for a synchronous standby forever: the client times out
        self.acked[ident] = self.t
        return True

    # -- side effects of the tool -----------------------------------------------------
    def effect(self, what: str, where: str) -> None:
        """Count a side effect; the model's process dies right after the chosen one."""
        self.effects += 1
        self.effect_log.append((what, where))
        self.settle()
        if self.crash_after is not None and self.effects >= self.crash_after:
            self.crash_after = None
            self.dead = True
            raise Crash(f"after effect {self.effects}: {what} on {where}")

    def crash_hook(self, step: str) -> None:
        """Stands in for engine._crash (CRMDR_TEST_CRASH_AT) without ending the test process."""
        if self.crash_step == step:
            self.crash_step = None
            self.dead = True
            raise Crash(f"after the action of step {step}")

    def writable_in_dns(self) -> list[str]:
        nodes = [self.by_host(address) for address in set(self.dns.values())]
        return sorted(n.name for n in nodes if n is not None and n.writable)


class ModelClock:
    def __init__(self, world: World) -> None:
        self.world = world

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.world.t)

    def monotonic(self) -> float:
        return self.world.t


class ModelRunner:
    """The host's SSH runner; the model never runs shell commands through it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, command: str, *, timeout: float | None = None, check: bool = True) -> CommandResult:
        raise AssertionError(f"unmodelled shell command on {self.name}: {command}")

    def close(self) -> None:
        return None


class ModelHost:
    """PgHost's surface over a model node."""

    def __init__(self, world: World, node: HostNode) -> None:
        self.world, self.node, self.runner = world, node, ModelRunner(node.name)
        self.state = world.nodes[node.name]

    @property
    def name(self) -> str:
        return self.node.name

    def _ssh(self) -> Node:
        if not self.state.reachable:
            raise HostError(f"host {self.name}: timed out connecting over SSH")
        return self.state

    def _sql(self) -> Node:
        node = self._ssh()
        if not node.running:
            raise HostError(f"PostgreSQL on {self.name}: connection refused")
        return node

    def query(self, sql: str, params: tuple[Any, ...] = (), dbname: str = "postgres") -> tuple[Any, ...] | None:
        node = self._sql()
        if "txid_current()" in sql:
            if node.recovery:
                raise HostError(f"PostgreSQL on {self.name}: cannot execute txid_current() during recovery")
            return (False, 1)
        if "current_setting('synchronous_standby_names')" in sql:
            syncs = sum(1 for n in self.world.nodes.values() if self.world.streaming(n) is node)
            return (node.sync_names, syncs if node.sync_names else 0)
        if "FROM pg_stat_replication" in sql:
            standby = self.world.nodes.get(str(params[0]) if params else "")
            return (0.0,) if standby is not None and self.world.streaming(standby) is node else None
        if "pg_stat_wal_receiver" in sql:
            return self._receiver(node)
        raise AssertionError(f"unmodelled query on {self.name}: {sql}")

    def _receiver(self, node: Node) -> tuple[Any, ...] | None:
        """The WAL receiver's last message age; its row goes once it gave up (wal_receiver_timeout)."""
        if not node.recovery or node.last_receipt is None:
            return None
        age = self.world.t - node.last_receipt
        return (age,) if age <= WAL_RECEIVER_TIMEOUT else (None,)

    def execute(self, *statements: str) -> None:
        node = self._sql()
        for statement in statements:
            if statement.startswith("ALTER SYSTEM SET synchronous_standby_names = ''"):
                node.sync_names = ""
                self.world.effect("desync", self.name)
            elif statement != "SELECT pg_reload_conf()":
                raise AssertionError(f"unmodelled statement on {self.name}: {statement}")

    def running(self) -> bool:
        return self._ssh().running

    def in_recovery(self) -> bool | None:
        node = self.state
        return node.recovery if node.reachable and node.running else None

    def controldata(self) -> dict[str, str]:
        self._ssh()
        return {"Database system identifier": "7300000000000000001"}

    def identity(self) -> Identity:
        running = self.running()
        return Identity(name=self.name, running=running, in_recovery=self.in_recovery() if running else None,
                        system_id=self.controldata()["Database system identifier"])

    def fence_state(self) -> tuple[bool, bool]:
        ssh = self._ssh()
        return ssh.running, ssh.signal

    def upstream(self) -> str:
        up = self.world.nodes.get(self._ssh().upstream or "")
        return up.host if up else ""

    def stop(self, mode: str) -> str:
        node = self._ssh()
        if not node.running:
            return "already stopped"
        node.running = False
        self.world.effect(f"stop -m {mode}", self.name)
        return f"pg_ctl stop -m {mode}"

    def start(self) -> str:
        node = self._ssh()
        node.running, node.recovery = True, node.signal
        self.world.effect("start", self.name)
        return "pg_ctl start"

    def promote(self, *, wait: bool = True) -> str:
        node = self._sql()
        if not node.recovery:
            raise HostError(f"host {self.name}: pg_ctl promote: server is not in standby mode")
        other = next(n for n in self.world.nodes.values() if n is not node)
        lost = {w: t for w, t in self.world.acked.items() if w not in node.wal}
        self.world.promotions.append(Promotion(
            run="", target=self.name, lost=lost, forced=self.world.current_run_forced,
            accepted=self.world.current_run_accepts, at=self.world.t,
            other_fenced=not (other.running and not other.recovery) and other.signal))
        node.recovery, node.signal, node.upstream = False, False, None
        self.world.effect("promote", self.name)
        return "pg_ctl promote"

    def set_standby_signal(self, present: bool) -> None:
        self._ssh().signal = present
        self.world.effect(f"standby.signal {present}", self.name)

    def replication(self) -> list[tuple[str, str, str]]:
        node = self._sql()
        return [(n.name, "streaming", "sync" if node.sync_names else "async")
                for n in self.world.nodes.values() if self.world.streaming(n) is node]

    def write_passfile(self) -> None:
        raise AssertionError("failover never writes a passfile")

    def write_host_conf(self, upstream: HostNode | None) -> None:
        raise AssertionError("failover never rewrites host settings")

    def rewind(self, source: HostNode) -> str:
        raise AssertionError("failover never rewinds")

    def reclone(self, source: HostNode, stamp: str) -> str:
        raise AssertionError("failover never re-clones")


class ModelDns:
    def __init__(self, world: World) -> None:
        self.world = world

    def records(self) -> dict[str, dict[str, Any]]:
        return {role: {"ResourceRecords": [{"Value": address}]} for role, address in self.world.dns.items()}

    def resolve(self) -> str:
        return self.world.dns["PRIMARY"]

    def point_to(self, primary: tuple[str, str | None], secondary: tuple[str, str | None]) -> None:
        self.world.dns = {"PRIMARY": primary[0], "SECONDARY": secondary[0]}
        self.world.effect("dns", f"{primary[0]}/{secondary[0]}")


class ModelLock:
    """DynamoLock's rules: free, expired, or the same run; a dead process releases nothing."""

    holder = "model@test pid 1"

    def __init__(self, world: World) -> None:
        self.world = world
        self._run: str | None = None

    def acquire(self, run: str) -> None:
        held = self.world.lock
        if held and held[0] != run and held[1] >= self.world.t:
            raise Refused(f"another recovery holds the lock: run {held[0]}; refusing to start a second one")
        self.world.lock = (run, self.world.t + self.world.inventory.lock.lease_seconds)
        self._run = run

    def current(self) -> dict[str, str] | None:
        held = self.world.lock
        return {"run_id": held[0], "expires_at": str(held[1])} if held else None

    def renew(self) -> None:
        if self._run and not self.world.dead:
            self.world.lock = (self._run, self.world.t + self.world.inventory.lock.lease_seconds)

    def release(self) -> None:
        if self.world.dead or self._run is None:
            return
        if self.world.lock and self.world.lock[0] == self._run:
            self.world.lock = None
        self._run = None


class ModelNotifier:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[str] = []

    def publish(self, subject: str, message: str) -> None:
        self.world.notices.append(subject)
        self.sent.append(subject)


class ModelStore:
    """The journal mirror: a dict of keys to bytes."""

    def __init__(self, world: World) -> None:
        self.world = world

    def put_bytes(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> StoredObject:
        self.world.objects[key] = data
        return StoredObject(key=key, size=len(data))

    def get_bytes(self, key: str) -> bytes:
        if key not in self.world.objects:
            raise ObjectNotFound(f"{key} does not exist")
        return self.world.objects[key]

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        yield self.get_bytes(key)

    def list(self, prefix: str = "") -> list[StoredObject]:
        return [StoredObject(key=k, size=len(v)) for k, v in sorted(self.world.objects.items()) if k.startswith(prefix)]

    def head(self, key: str) -> StoredObject | None:
        data = self.world.objects.get(key)
        return None if data is None else StoredObject(key=key, size=len(data))

    def delete(self, key: str) -> None:
        raise CloudError("the model's mirror keeps every journal")


@dataclass
class ModelSite(Site):
    """Site with the three database round trips through the name answered by the model."""

    world: World | None = None

    def _world(self) -> World:
        assert self.world is not None
        return self.world

    def write_through_dns(self, run: str) -> str:
        world = self._world()
        node = world.by_host(world.dns["PRIMARY"])
        if node is None or not node.writable:
            raise HostError(f"cannot write through {self.inventory.dns.record_name}: no writable server")
        node.markers.add(run)
        world.effect("marker", f"{node.name} {run}")
        return f"write through {self.inventory.dns.record_name} ({node.host}) committed"

    def marker_written(self, run: str) -> Truth:
        world = self._world()
        node = world.by_host(world.dns["PRIMARY"])
        found = node is not None and node.reachable and node.running and run in node.markers
        return Truth(found, f"marker row of this run {'present' if found else 'absent'}")

    def validate(self, name: str) -> list[str]:
        return []


def open_model_site(world: World) -> ModelSite:
    """What open_site builds, over the model: unreachable hosts are data, not errors."""
    inventory = world.inventory
    hosts: dict[str, Any] = {}
    for node in inventory.database.nodes():
        assert isinstance(node, HostNode)
        hosts[node.name] = ModelHost(world, node)
    unreachable = {name: f"host {name}: timed out connecting over SSH"
                   for name, node in world.nodes.items() if not node.reachable}
    fake: Any = {"dns": ModelDns(world), "resolver": lambda: ModelDns(world), "lock": ModelLock(world),
                 "notifier": ModelNotifier(world), "store": ModelStore(world), "clock": ModelClock(world)}
    return ModelSite(inventory=inventory, tier=load_policy(None).tier(inventory.sla_tier), hosts=hosts,
                     unreachable=unreachable, world=world, **fake)
