"""The database name as an application resolves it: through DNS (the data plane), never the Route 53 API.

The inventory's `dns.resolver` ("host:port") names the server applications ask (the lab's DNS
server); None means the system resolver (/etc/resolv.conf: the VPC resolver in AWS). An
answer is kept for its TTL, as the resolver an application sits behind keeps it, so after a
failover a client follows the name only once its cached answer expires.
Every failure (no answer, server unreachable, timeout) is a HostError whose message starts
with "DNS:"; the caller tells it apart from a failure of the database itself.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.rdatatype
import dns.resolver

from policies.errors import HostError
from recovery.inventory import Inventory


@dataclass(frozen=True)
class Resolved:
    """One answer: the address, its TTL as served, and until when (monotonic) it is kept."""

    address: str
    ttl: int
    expires: float


def _server(resolver: str) -> tuple[str, int]:
    host, _, port = resolver.rpartition(":")
    return host.strip("[]"), int(port)


class DnsResolver:
    """Resolves `dns.record_name` (type A) through `dns.resolver`; thread-safe, one query at a time."""

    def __init__(self, inventory: Inventory, timeout: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._name = inventory.dns.record_name
        self._where = inventory.dns.resolver
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Resolved | None = None
        self._client: dns.resolver.Resolver | None = None

    @property
    def where(self) -> str:
        return self._where or "the system resolver"

    def resolve(self) -> str:
        """The address a client connects to now (from the cache while its TTL lasts)."""
        return self.answer().address

    def answer(self) -> Resolved:
        with self._lock:
            now = self._clock()
            if self._cached is None or now >= self._cached.expires:
                self._cached = self._query(now)
            return self._cached

    def _query(self, now: float) -> Resolved:
        try:
            answer = self._resolver().resolve(self._name, dns.rdatatype.A, lifetime=self._timeout, search=False)
        except dns.resolver.NXDOMAIN:
            raise HostError(f"DNS: {self._name} does not exist at {self.where}") from None
        except (dns.exception.DNSException, OSError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HostError(f"DNS: cannot resolve {self._name} through {self.where} ({reason})") from None
        ttl = min(rrset.ttl for rrset in answer.response.answer)
        return Resolved(str(answer[0].address), ttl, now + ttl)

    def _resolver(self) -> dns.resolver.Resolver:
        if self._client is None:
            client = dns.resolver.Resolver(configure=self._where is None)
            if self._where is not None:
                host, port = _server(self._where)
                client.port = port
                client.nameservers = [host]
            client.cache = None  # the cache is ours (above): one TTL rule, one place
            self._client = client
        return self._client
