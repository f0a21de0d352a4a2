"""Operating-system chores of the lab: the service user, processes, ports, binaries.

`initdb` refuses root, so as root PostgreSQL and the SSH logins run as a dedicated system
user; as a normal user everything runs as that user.
"""

import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from drills.lab.settings import OS_USER_WHEN_ROOT
from policies.errors import ConfigError, HostError

log = logging.getLogger(__name__)

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def is_root() -> bool:
    return os.geteuid() == 0


def os_user() -> str:
    """Who runs PostgreSQL and whom Fabric logs in as."""
    return OS_USER_WHEN_ROOT if is_root() else getpass.getuser()


def ensure_os_user() -> None:
    """Create the service user when root; '*' keeps it password-less but not 'locked' for sshd."""
    if not is_root():
        return
    user = os_user()
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{user}",
             "--shell", "/bin/sh", user],
            check=True, capture_output=True,
        )
    subprocess.run(["usermod", "-p", "*", user], check=True, capture_output=True)


def as_service_user(command: Sequence[str]) -> list[str]:
    """Prefix a command so that it runs as the service user."""
    return ["runuser", "-u", os_user(), "--", *command] if is_root() else list(command)


def run_service(command: Sequence[str], *, what: str, timeout: float = 120, netns: str | None = None) -> str:
    """Run as the service user (inside `netns` when given); a failure becomes a HostError naming `what`."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, *as_service_user(command)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise HostError(f"{what} failed (exit {done.returncode}): {' / '.join(detail)}")
    return done.stdout


def give_to_service_user(path: Path) -> None:
    """Hand a directory tree to the service user (no-op when not root)."""
    if is_root():
        shutil.chown(path, user=os_user(), group=os_user())
        for child in path.rglob("*"):
            shutil.chown(child, user=os_user(), group=os_user())


def check_traversable(path: Path) -> None:
    """The service user must reach the lab directory; a 0700 parent (pytest, mkdtemp) blocks it."""
    if not is_root():
        return
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise ConfigError(
                f"{parent}: directory is not reachable by the service user '{os_user()}' "
                f"(mode {oct(os.stat(parent).st_mode & 0o777)}); expected it to be world-executable"
            )


def pg_bin_dir() -> Path:
    """The PostgreSQL server binaries; $CRMDR_PG_BIN wins."""
    candidates = [os.environ["CRMDR_PG_BIN"]] if os.environ.get("CRMDR_PG_BIN") else PG_BIN_CANDIDATES
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise ConfigError(
        f"PostgreSQL server binaries not found (no initdb in {', '.join(candidates)}); "
        "expected the Debian package 'postgresql' or CRMDR_PG_BIN"
    )


def sshd_binary() -> Path:
    path = Path("/usr/sbin/sshd")
    if not path.exists():
        raise ConfigError("sshd not found at /usr/sbin/sshd; expected the Debian package 'openssh-server'")
    return path


def port_open(ip: str, port: int, timeout: float = 0.3) -> bool:
    """Something accepts TCP connections on ip:port."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(ip: str, port: int, *, open_: bool, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while port_open(ip, port) != open_:
        if time.monotonic() > deadline:
            state = "accept connections" if open_ else "close"
            raise HostError(f"{what} on {ip}:{port} did not {state} within {timeout:g}s")
        time.sleep(0.05)


def pid_alive(pid: int | None) -> bool:
    """Alive and not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def terminate(pid: int | None, *, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after `timeout`; missing processes are fine."""
    if pid is None or not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            log.warning("process %s ignored SIGTERM; killing it", pid)
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


def read_pid(path: Path) -> int | None:
    """First line of a pid file (postmaster.pid, sshd.pid), or None."""
    try:
        return int(path.read_text().splitlines()[0].strip())
    except (OSError, ValueError, IndexError):
        return None
