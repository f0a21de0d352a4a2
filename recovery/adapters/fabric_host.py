"""Fabric over SSH with the inventory's host key pinned: unknown or changed keys are refused.

Fabric's `Connection` auto-adds unknown host keys and loads no known_hosts; here the policy
is `RejectPolicy` and the only known key is the one the inventory pins.
"""

import logging
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut, UnexpectedExit
from paramiko.hostkeys import HostKeyEntry

from policies.errors import ConfigError, DrError, HostError, HostKeyMismatch
from recovery.inventory import AppHost, HostNode, Ssh
from recovery.ports import CommandResult
from recovery.redact import redact

log = logging.getLogger(__name__)

DEAD_PEER = (("SOL_SOCKET", "SO_KEEPALIVE", 1), ("IPPROTO_TCP", "TCP_KEEPIDLE", 5),
             ("IPPROTO_TCP", "TCP_KEEPINTVL", 2), ("IPPROTO_TCP", "TCP_KEEPCNT", 3),
             ("IPPROTO_TCP", "TCP_USER_TIMEOUT", 15000))
"""A host cut off mid-session kills the SSH connection in ~15 s. Without it paramiko waits up to
an hour for a channel to open (a command's timeout starts only once it has), and TCP retransmits
for ~15 minutes. Options the platform lacks (TCP_USER_TIMEOUT off Linux) are skipped."""


def _detect_dead_peer(sock: object) -> None:
    if not isinstance(sock, socket.socket):  # a proxy or gateway channel: nothing to tune
        return
    for level, option, value in DEAD_PEER:
        if hasattr(socket, option):
            sock.setsockopt(getattr(socket, level), getattr(socket, option), value)


def pinned_connection(node: HostNode | AppHost, ssh: Ssh) -> Connection:
    """A Connection that trusts exactly the inventory's known_hosts entry for this host."""
    try:
        entry = HostKeyEntry.from_line(node.known_hosts)
    except (paramiko.SSHException, ValueError, IndexError) as err:
        raise ConfigError(f"host {node.name}: known_hosts entry is not a valid key line ({err})") from None
    if entry is None or entry.key is None:
        raise ConfigError(f"host {node.name}: known_hosts entry is not a valid key line")
    connect_kwargs: dict[str, object] = {"look_for_keys": False, "allow_agent": False,
                                         "banner_timeout": ssh.connect_timeout,
                                         "auth_timeout": ssh.connect_timeout}
    if ssh.identity_file:
        connect_kwargs["key_filename"] = ssh.identity_file
    conn = Connection(host=node.host, port=node.ssh_port, user=node.user,
                      connect_timeout=ssh.connect_timeout, connect_kwargs=connect_kwargs)
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    keys = conn.client.get_host_keys()
    pinned_name = node.host if node.ssh_port == 22 else f"[{node.host}]:{node.ssh_port}"
    for name in {*entry.hostnames, pinned_name}:
        keys.add(name, entry.key.get_name(), entry.key)
    return conn


class FabricHostRunner:
    """HostRunner over Fabric; errors become HostError / HostKeyMismatch naming the host."""

    def __init__(self, node: HostNode | AppHost, ssh: Ssh, secrets: Iterable[str] = ()) -> None:
        self.name = node.name
        self._node = node
        self._conn = pinned_connection(node, ssh)
        self._secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def open(self) -> None:
        """Connect now, so a changed host key stops a runbook before its first step."""
        where = f"{self._node.host}:{self._node.ssh_port}"
        try:
            self._conn.open()
        except paramiko.BadHostKeyException:
            raise HostKeyMismatch(
                f"host {self.name} ({where}) presented a host key that differs from the one pinned "
                "in the inventory; refusing to connect"
            ) from None
        except paramiko.SSHException as err:
            if "not found in known_hosts" in str(err):
                raise HostKeyMismatch(f"host {self.name} ({where}) has no pinned host key; refusing") from None
            raise HostError(f"host {self.name} ({where}): SSH failed ({err})") from None
        except (TimeoutError, OSError, EOFError) as err:
            raise HostError(f"host {self.name} ({where}) is unreachable over SSH ({err})") from None
        _detect_dead_peer(self._conn.transport.sock)

    def run(self, command: str, *, timeout: float | None = None, check: bool = True) -> CommandResult:
        self.open()
        shown = self._redact(command)
        log.debug("%s: %s", self.name, shown)
        try:
            result = self._conn.run(command, hide=True, warn=True, timeout=timeout, in_stream=False)
        except CommandTimedOut:
            raise HostError(f"host {self.name}: '{shown}' timed out after {timeout:g}s") from None
        except (UnexpectedExit, paramiko.SSHException, OSError, EOFError) as err:
            raise HostError(f"host {self.name}: '{shown}' failed ({type(err).__name__})") from None
        done = CommandResult(host=self.name, command=shown, exit_code=result.exited,
                             stdout=self._redact(result.stdout), stderr=self._redact(result.stderr))
        if check and not done.ok:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise HostError(f"host {self.name}: '{shown}' exited {done.exit_code}: {detail[0]}")
        return done

    def close(self) -> None:
        self._conn.close()


def run_on_all(
    runners: Iterable[FabricHostRunner], command: str, *, timeout: float | None = None
) -> dict[str, CommandResult | DrError]:
    """Fan out one command; partial failure is data (host -> result or error), like GroupResult."""
    runners = list(runners)

    def one(runner: FabricHostRunner) -> CommandResult | DrError:
        try:
            return runner.run(command, timeout=timeout, check=False)
        except DrError as err:
            return err

    with ThreadPoolExecutor(max_workers=max(1, min(32, len(runners)))) as pool:
        return dict(zip([r.name for r in runners], pool.map(one, runners), strict=True))
