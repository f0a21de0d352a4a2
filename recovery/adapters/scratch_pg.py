"""An isolated, throw-away PostgreSQL for restore-tests, on the tool host.

Isolation: no TCP at all (listen_addresses=''), a Unix socket in a private directory, its own
hba file (local connections only), archive_mode=off, no primary_conninfo, no synchronous
standbys, a cluster_name that says what it is. Nothing can reach it through the DNS name and
it can push nothing into the production WAL archive. `initdb`/`postgres` refuse root: when
root, the server runs as $CRMDR_SCRATCH_USER, else `crmdr-lab` when it exists, else `postgres`.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, cast

import psycopg
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from policies.errors import HostError
from recovery.adapters.pg_tools import tool

EXIT_WAIT = 10.0
SOCKET_PORT = 5432  # names the socket file only; nothing listens on TCP
ISOLATION = ("listen_addresses='' (no TCP), Unix socket in a private directory, local-only hba "
             "(no replication connections), "
             "archive_mode=off, no primary_conninfo, no synchronous standbys")


def service_user() -> str | None:
    """Whom the scratch server runs as (None: the current user, when not root)."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("CRMDR_SCRATCH_USER")
    if wanted:
        return wanted
    try:
        pwd.getpwnam("crmdr-lab")
    except KeyError:
        return "postgres"
    return "crmdr-lab"


def _as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def _chown(path: Path) -> None:
    user = service_user()
    if user:
        shutil.chown(path, user=user, group=user)


class Scratch:
    """One scratch server's directory: data, socket, log."""

    def __init__(self, root: Path, bin_dir: str, user: str) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = self.socket_dir / "postgres.log"
        self.bin_dir = bin_dir
        self.user = user
        self.os_user = service_user() or pwd.getpwuid(os.geteuid()).pw_name
        self.cleanup: dict[str, object] = {}
        """Filled when the scratch server is gone: what was checked, for the drill report."""

    def private_dir(self, name: str) -> Path:
        """A directory of the server's OS user under the root (which only root may write when root)."""
        path = self.root / name
        path.mkdir(mode=0o700, exist_ok=True)
        _chown(path)
        return path

    def run(self, command: list[str], *, what: str, stdin: IO[bytes] | None = None,
            timeout: float = 600) -> str:
        done = subprocess.run(_as_user(command), stdin=stdin, capture_output=True, timeout=timeout)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-3:]
            raise HostError(f"{what} failed (exit {done.returncode}): {' / '.join(detail)}")
        return done.stdout.decode(errors="replace")

    def probe(self, command: list[str], timeout: float = 600) -> tuple[int, str]:
        """Exit code and output (last lines) of a check that may fail."""
        done = subprocess.run(_as_user(command), capture_output=True, timeout=timeout)
        text = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-3:]
        return done.returncode, " / ".join(text)

    @contextmanager
    def feed(self, command: list[str], *, what: str) -> Iterator[Callable[[bytes | memoryview], object]]:
        """Run `command` and yield a writer to its stdin; HostError when it exits non-zero.

        If the command stops reading early, later writes are dropped (the caller still reads
        and hashes every byte); its exit code decides.
        """
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(_as_user(command), stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=errors)
            stdin = cast(IO[bytes], process.stdin)  # stdin=PIPE: never None
            broken: list[bool] = []

            def write(chunk: bytes | memoryview) -> None:
                if not broken:
                    try:
                        stdin.write(chunk)
                    except BrokenPipeError:
                        broken.append(True)

            try:
                yield write
            finally:
                with suppress(BrokenPipeError):
                    stdin.close()
                code = process.wait()
            if code != 0:
                errors.seek(0)
                last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
                raise HostError(f"{what} exited {code}: {last}")

    def extract_command(self) -> list[str]:
        """`tar -x` into the data directory, fed on stdin while the object streams in."""
        return ["tar", "-x", "-f", "-", "-C", str(self.data)]

    def initdb(self) -> None:
        self.run([tool("initdb", self.bin_dir), "-D", str(self.data), "-U", self.user,
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], what="initdb of the scratch server")

    def _write_hba(self) -> Path:
        hba = self.root / "scratch_hba.conf"
        hba.write_text("local all all trust\n")
        _chown(hba)
        return hba

    def start(self, recovery: dict[str, str] | None = None) -> None:
        """Start in isolation; with `recovery` settings, as an archive recovery (recovery.signal).

        Values are shell words (pg_ctl -o goes through /bin/sh): quote them with shlex.
        """
        options = {
            "listen_addresses": "''", "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(SOCKET_PORT), "hba_file": f"'{self._write_hba()}'", "archive_mode": "off",
            "archive_command": "''", "primary_conninfo": "''", "synchronous_standby_names": "''",
            "cluster_name": "'crmdr-scratch'", "restore_command": "''",
        }
        options.update(recovery or {})
        flags = " ".join(f"-c {name}={value}" for name, value in options.items())
        (self.data / "standby.signal").unlink(missing_ok=True)
        (self.data / "recovery.signal").unlink(missing_ok=True)
        if recovery:
            (self.data / "recovery.signal").touch()
            _chown(self.data / "recovery.signal")
        try:
            self.run([tool("pg_ctl", self.bin_dir), "start", "-D", str(self.data), "-l", str(self.log),
                      "-w", "-t", "300", "-o", flags], what="starting the scratch server")
        except HostError as err:
            raise HostError(f"{err}; server log: {self.log_tail(12)}") from None

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(_as_user([tool("pg_ctl", self.bin_dir), "stop", "-D", str(self.data),
                                     "-m", "immediate", "-w"]), capture_output=True, timeout=120)

    @contextmanager
    def connect(self, dbname: str) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(host=str(self.socket_dir), port=SOCKET_PORT, user=self.user,
                                   dbname=dbname, autocommit=True, application_name="crmdr-verify")
        except psycopg.OperationalError as err:
            raise HostError(f"cannot connect to the scratch server: {str(err).strip()}") from None
        try:
            yield conn
        finally:
            conn.close()

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " / ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def scratch(bin_dir: str, user: str) -> Iterator[Scratch]:
    """A scratch directory (0700, owned by the service user); stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="crmdr-scratch-", dir=os.environ.get("CRMDR_SCRATCH_DIR")))
    root.chmod(0o711)
    box = Scratch(root, bin_dir, user)
    for path in (box.data, box.socket_dir):
        path.mkdir(mode=0o700)
        _chown(path)
    try:
        if box.probe(["test", "-w", str(box.data)])[0] != 0:
            raise HostError(f"the scratch directory {root} is not reachable by OS user {box.os_user}: "
                            "set CRMDR_SCRATCH_DIR to a directory every user can traverse")
        yield box
    finally:
        pid = _postmaster_pid(box.data)
        box.stop()
        shutil.rmtree(root, ignore_errors=True)
        box.cleanup = _gone(root, pid)


def _postmaster_pid(data: Path) -> int | None:
    with suppress(OSError, ValueError, IndexError):
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    return None


def _alive(pid: int) -> bool:
    """A zombie (exited, not yet reaped by PID 1) counts as stopped: it holds no files or ports."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _exits_within(pid: int, seconds: float) -> bool:
    """The postmaster removes its pid file a moment before it exits: give it that moment."""
    retrying = Retrying(stop=stop_after_delay(seconds), wait=wait_fixed(0.05),
                        retry=retry_if_result(lambda alive: alive), retry_error_callback=lambda _: True)
    return not retrying(_alive, pid)


def _gone(root: Path, pid: int | None, wait: float = EXIT_WAIT) -> dict[str, object]:
    """Checked, not assumed: the directory is removed and the server process no longer exists."""
    running = pid is not None and _exits_within(pid, wait) is False
    left = root.exists()
    detail = (f"scratch server {'still running (pid ' + str(pid) + ')' if running else 'stopped'}; "
              f"{root} {'still present' if left else 'removed'}")
    return {"clean": not running and not left, "detail": detail}
