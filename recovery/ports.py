"""The side effects recovery needs, as small Protocols; adapters implement them by technology."""

from dataclasses import dataclass
from typing import Protocol


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
