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


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped the work; a KeyboardInterrupt, so no `except
    Exception` swallows it and every `finally` (journal, lock, multipart upload) still runs.

    `exit_code` is the shell's convention, 128 + the signal number (130, 143, 129); `message`
    is filled in by whoever knows where the work stopped and how to resume it."""

    NAMES = {1: "SIGHUP", 2: "SIGINT", 15: "SIGTERM"}

    def __init__(self, signum: int = 2, message: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.message = message

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return self.NAMES.get(self.signum, f"signal {self.signum}")

    def with_message(self, message: str) -> "Interrupted":
        return Interrupted(self.signum, message)


def interrupted(error: BaseException) -> Interrupted:
    """A plain KeyboardInterrupt (Ctrl-C without crmdr's handlers) is a SIGINT."""
    return error if isinstance(error, Interrupted) else Interrupted(2)
