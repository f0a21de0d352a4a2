"""The lab's DNS: an authoritative server for the lab zone, answering as Route 53's data plane does.

Applications (and the watch and the write probe) resolve the database name through DNS, not
through the Route 53 API. This server answers from the zone's record sets in the lab's moto:
for a failover pair, the PRIMARY record while its health check is healthy, else the SECONDARY
one (both unhealthy: the PRIMARY, as Route 53 does), with the record's TTL.

Health state in the lab: moto reports every health check healthy (DESIGN.md), so the PRIMARY
record answers, and a failover moves the answer the way the runbook's DNS step does it: by
rewriting the pair (PRIMARY -> the new primary). The answer follows within one refresh.

The zone is read every `refresh` seconds in the background and kept (in memory and in a cache
file): when moto is down the server keeps answering from the last records it read, as Route
53's data plane keeps answering while its control plane (the API) is out. Before any read
succeeded it answers SERVFAIL.

Run as its own process: `python -m drills.lab.dns_server --inventory FILE --cache FILE
--address IP --port PORT`; `crmdr lab up` starts it, `lab down` stops it (drills/lab/lab.py).
"""

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dnslib import AAAA, CNAME, NS, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from drills.lab import network
from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import pid_alive, terminate
from policies.errors import DrError
from recovery.adapters.aws_session import client
from recovery.inventory import Inventory, load_inventory

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
SERVED_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "NS"})
SOA_TIMERS = (60, 10, 600, 5)  # refresh, retry, expire, minimum (negative-answer TTL)
RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "NS": NS, "TXT": TXT}


@dataclass(frozen=True)
class Answer:
    """One record set as the server serves it."""

    name: str
    rtype: str
    ttl: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class ZoneView:
    """What the server answers, when it was read, and since when moto could not be read."""

    zone: str
    answers: tuple[Answer, ...]
    read_at: str
    unreachable_since: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ZoneView":
        data = json.loads(text)
        answers = tuple(Answer(a["name"], a["rtype"], int(a["ttl"]), tuple(a["values"])) for a in data["answers"])
        return cls(data["zone"], answers, data["read_at"], data.get("unreachable_since"))


def served(record_sets: Iterable[dict[str, Any]], healthy: Callable[[str], bool]) -> tuple[Answer, ...]:
    """Route 53's answers: simple record sets as they are; of a failover pair the PRIMARY while
    healthy, else the SECONDARY while healthy, else the PRIMARY. Alias and other routing: not served."""
    simple: list[Answer] = []
    pairs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for record in record_sets:
        if record["Type"] not in SERVED_TYPES or "ResourceRecords" not in record:
            continue
        if "Failover" in record:
            pairs.setdefault((record["Name"], record["Type"]), {})[record["Failover"]] = record
        elif "SetIdentifier" not in record:
            simple.append(_answer(record))
    for pair in pairs.values():
        primary, secondary = pair.get("PRIMARY"), pair.get("SECONDARY")
        usable = [r for r in (primary, secondary) if r and healthy(r.get("HealthCheckId", ""))]
        chosen = usable[0] if usable else primary or secondary
        if chosen:
            simple.append(_answer(chosen))
    return tuple(simple)


def _answer(record: dict[str, Any]) -> Answer:
    return Answer(record["Name"], record["Type"], int(record.get("TTL", 60)),
                  tuple(str(r["Value"]) for r in record["ResourceRecords"]))


class Route53Zone:
    """Reads the zone from the lab's moto (Route 53 API); the inventory is re-read when its file changes
    (a second `lab up` may provision a new zone), the client is kept."""

    def __init__(self) -> None:
        self._loaded: tuple[float, Inventory, Any] | None = None

    def _inventory(self, file: Path) -> tuple[Inventory, Any]:
        mtime = file.stat().st_mtime
        if self._loaded is None or self._loaded[0] != mtime:
            inventory = load_inventory(file)
            self._loaded = (mtime, inventory, client(inventory.aws, "route53", inventory.regions.primary,
                                                     probe_timeout=2))
        return self._loaded[1], self._loaded[2]

    def __call__(self, inventory_file: Path) -> ZoneView:
        """The zone's answers now; raises when moto cannot be read."""
        inventory, route53 = self._inventory(inventory_file)
        pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=inventory.dns.zone_id)
        records = [record for page in pages for record in page["ResourceRecordSets"]]
        states: dict[str, bool] = {}

        def healthy(check_id: str) -> bool:
            if not check_id:
                return True
            if check_id not in states:
                status = route53.get_health_check_status(HealthCheckId=check_id)
                observations = status.get("HealthCheckObservations", [])
                states[check_id] = not observations or any(
                    o.get("StatusReport", {}).get("Status", "").startswith("Success") for o in observations)
            return states[check_id]

        return ZoneView(inventory.dns.zone, served(records, healthy), _now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ZoneKeeper:
    """The current view: refreshed from moto, kept (and cached to a file) when moto cannot be read."""

    def __init__(self, inventory_file: Path, cache_file: Path,
                 read: Callable[[Path], ZoneView] | None = None) -> None:
        self._inventory, self._cache, self._read = inventory_file, cache_file, read or Route53Zone()
        self.view: ZoneView | None = None
        if cache_file.exists():
            try:
                self.view = ZoneView.from_json(cache_file.read_text())
            except (ValueError, KeyError, TypeError):
                log.warning("%s: not a zone cache; ignored", cache_file)

    def refresh(self) -> None:
        try:
            fresh = self._read(self._inventory)
        except Exception as err:  # any failure to read the control plane: keep answering from the last view
            if self.view is not None and self.view.unreachable_since is None:
                log.warning("Route 53 API unreachable (%s); answering from the records read at %s",
                            type(err).__name__, self.view.read_at)
                self._keep(replace(self.view, unreachable_since=_now()))
            return
        if self.view is None or self.view.answers != fresh.answers or self.view.unreachable_since:
            log.info("zone %s: %s", fresh.zone, "; ".join(f"{a.name} {a.rtype} {','.join(a.values)}"
                                                            for a in fresh.answers))
            self._keep(fresh)
        else:
            self.view = fresh

    def _keep(self, view: ZoneView) -> None:
        self.view = view
        partial = self._cache.with_suffix(".tmp")
        partial.write_text(view.to_json())
        partial.replace(self._cache)


def _soa(zone: ZoneView) -> RR:
    """The zone's SOA, made here (moto's is not well-formed); its serial is the read time."""
    names = [a.values[0] for a in zone.answers if a.rtype == "NS" and DNSLabel(a.name) == DNSLabel(zone.zone)]
    serial = int(datetime.fromisoformat(zone.read_at).timestamp()) % 2**32
    return RR(zone.zone, QTYPE.SOA, ttl=SOA_TIMERS[3],
              rdata=SOA(names[0] if names else f"ns.{zone.zone}", f"hostmaster.{zone.zone}", (serial, *SOA_TIMERS)))


class LabZoneResolver(BaseResolver):
    """Answers from `view()`: authoritative (AA set), no recursion, REFUSED outside the zone."""

    def __init__(self, view: Callable[[], ZoneView | None]) -> None:
        self._view = view

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply(ra=0, aa=1)
        zone, qname, qtype = self._view(), request.q.qname, QTYPE[request.q.qtype]
        if zone is None:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if not qname.matchSuffix(zone.zone):
            reply.header.aa, reply.header.rcode = 0, RCODE.REFUSED
            return reply
        found = [a for a in zone.answers if DNSLabel(a.name) == qname]
        if qtype in ("SOA", "ANY") and qname == DNSLabel(zone.zone):
            reply.add_answer(_soa(zone))
        for answer in found:
            if qtype in (answer.rtype, "ANY") or answer.rtype == "CNAME":
                for value in answer.values:
                    reply.add_answer(RR(qname, getattr(QTYPE, answer.rtype), ttl=answer.ttl,
                                        rdata=RDATA[answer.rtype](value)))
        if not reply.rr:
            reply.add_auth(_soa(zone))
            if not found and qname != DNSLabel(zone.zone):
                reply.header.rcode = RCODE.NXDOMAIN
        return reply


def serve(inventory_file: Path, cache_file: Path, address: str, port: int, *, stop: threading.Event,
          refresh: float = REFRESH_SECONDS) -> None:
    """Read the zone once, answer on UDP and TCP, refresh every `refresh` seconds until `stop`."""
    keeper = ZoneKeeper(inventory_file, cache_file)
    keeper.refresh()
    resolver = LabZoneResolver(lambda: keeper.view)
    quiet = DNSLogger("-request,-reply,-truncated", prefix=False, logf=lambda text: log.info("%s", text))
    servers = [DNSServer(resolver, address=address, port=port, tcp=tcp, logger=quiet) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    log.info("answering for %s on %s:%s (UDP and TCP)", keeper.view.zone if keeper.view else "?", address, port)
    try:
        while not stop.wait(refresh):
            keeper.refresh()
    finally:
        for server in servers:
            server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m drills.lab.dns_server", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True, help="the lab's inventory.json")
    parser.add_argument("--cache", type=Path, required=True, help="where the last records read are kept")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--refresh", type=float, default=REFRESH_SECONDS, help="seconds between reads of the zone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(args.inventory, args.cache, args.address, args.port, stop=stop, refresh=args.refresh)


def start(paths: LabPaths, settings: LabSettings, pid: int | None) -> int:
    """Start the lab DNS server unless the one recorded is alive; return its pid."""
    if pid is not None and pid_alive(pid):
        return pid
    command = [sys.executable, "-m", "drills.lab.dns_server", "--inventory", str(paths.inventory),
               "--cache", str(paths.dns_cache), "--address", str(settings.aws_ip), "--port", str(settings.dns_port),
               "--refresh", str(settings.dns_refresh)]
    return network.start_on(paths, "aws", command, log=paths.dns_log, ip=str(settings.aws_ip),
                            port=settings.dns_port, what="lab DNS server")


def stop(pid: int | None) -> None:
    terminate(pid)


def describe(inventory: Inventory, paths: LabPaths) -> dict[str, object]:
    """What the server answers now, for `lab status`; `answers` is False when it does not answer."""
    from recovery.adapters.dns_resolver import DnsResolver

    found: dict[str, object] = {}
    try:
        resolved = DnsResolver(inventory, timeout=1.0).answer()
    except DrError as err:
        found.update(healthy=False, answer=str(err))
    else:
        found["answer"] = f"{inventory.dns.record_name} A {resolved.address} (TTL {resolved.ttl}s)"
    try:
        view = ZoneView.from_json(paths.dns_cache.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return found
    if view.unreachable_since:
        found["records"] = (f"as read at {view.read_at}: the Route 53 API has been unreachable "
                            f"since {view.unreachable_since}")
    return found


if __name__ == "__main__":
    main()
