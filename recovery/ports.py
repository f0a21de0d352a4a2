"""The side effects recovery needs, as small Protocols; adapters implement them by technology."""

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from policies.errors import CloudError
from recovery.inventory import HostNode


@dataclass(frozen=True)
class CommandResult:
    """What a command on a host returned; `command` is already redacted."""

    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class HostRunner(Protocol):
    """Runs shell commands on one host."""

    name: str

    def run(self, command: str, *, timeout: float | None = None, check: bool = True) -> CommandResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredObject:
    """One object in the backup store; `key` is relative to the store's prefix."""

    key: str
    size: int
    sha256: str | None = None
    last_modified: datetime | None = None
    retain_until: datetime | None = None
    lock_mode: str | None = None
    kms_key_id: str | None = None


@dataclass(frozen=True)
class Upload:
    """A multipart upload begun and never completed (an interrupted or running stream): its parts cost."""

    key: str
    upload_id: str
    initiated: datetime | None
    size: int


class ObjectNotFound(CloudError):
    """The object a caller named is not in the store."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ObjectStore(Protocol):
    """An off-site object store (the DR-region bucket); keys are relative to its prefix.

    Writes are encrypted and, given `retain_until`, locked until then (WORM).
    """

    def put_bytes(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> StoredObject: ...

    def get_bytes(self, key: str) -> bytes: ...

    def iter_chunks(self, key: str, chunk_size: int = ...) -> Iterator[bytes]: ...

    def upload_stream(
        self, key: str, readable: Readable, *, retain_until: datetime | None = None,
        on_progress: Callable[[int], None] | None = None, size_hint: int = 0,
    ) -> StoredObject: ...

    def list(self, prefix: str = "") -> list[StoredObject]: ...

    def head(self, key: str) -> StoredObject | None: ...

    def delete(self, key: str) -> None: ...

    def uploads(self, prefix: str = "") -> builtins.list[Upload]: ...

    def abort_upload(self, upload: Upload) -> None: ...


class Clock(Protocol):
    """Wall clock (UTC) for records, monotonic seconds for durations."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class Lock(Protocol):
    """A lease lock so only one recovery runs at a time; `acquire` raises Refused naming the holder."""

    holder: str

    def current(self) -> dict[str, str] | None: ...

    def acquire(self, run: str) -> None: ...

    def renew(self) -> None: ...

    def release(self) -> None: ...


class Notifier(Protocol):
    """Status notices to people (SNS topic in the DR region); `sent` lists the subjects sent."""

    sent: list[str]

    def publish(self, subject: str, message: str) -> None: ...


class Dns(Protocol):
    """The failover records of the DR name (Route 53 in AWS): read, resolve, re-point."""

    def records(self) -> dict[str, dict[str, Any]]: ...

    def resolve(self) -> str: ...

    def point_to(self, primary: tuple[str, str | None], secondary: tuple[str, str | None],
                 kind: str = "A") -> None: ...


class Resolver(Protocol):
    """The database name as applications resolve it: DNS (the data plane), never the Route 53 API.
    Failures raise HostError with a message starting "DNS:" (a state of its own, not the database's)."""

    def resolve(self) -> str: ...


class Isolator(Protocol):
    """Cuts a database host off from its clients when it cannot be stopped (fence by isolation)."""

    def isolate(self, node: HostNode) -> str: ...

    def is_isolated(self, node: HostNode) -> bool: ...

    def release(self, node: HostNode) -> str: ...
