"""One exception tree, translated to an exit code and one sentence at the CLI boundary."""


class DrError(Exception):
    """Base of every error the toolkit raises on purpose; `exit_code` is the CLI contract."""

    exit_code = 1


class ConfigError(DrError):
    """Bad input or configuration: the message names the file, the field and the line."""

    exit_code = 2


class Refused(DrError):
    """Refused for safety (lock held, fencing unconfirmed, production guard, data loss)."""

    exit_code = 3


class CheckFailed(DrError):
    """A check ran and its answer was no: verification failed, SLA breached, drill failed."""

    exit_code = 1


class VerificationFailed(CheckFailed):
    """A recovery point or a restored database did not match what was promised."""


class HostError(DrError):
    """A host could not be reached or a command on it failed."""

    exit_code = 1


class HostKeyMismatch(Refused):
    """A host presented a key other than the one pinned in the inventory."""


class CloudError(DrError):
    """An AWS call failed after its retries; `retryable` is False when trying again cannot help
    (access denied, a rejected request), so the runbook engine stops at once and says why."""

    exit_code = 1

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
