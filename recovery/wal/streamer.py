"""The WAL streamer: pg_receivewal into a local directory on the DR side, each file into the bucket.

Completed segments go through the archiver's Uploader (key `wal/<name>`, SHA-256 in the
metadata, SSE-KMS, Object Lock for the tier's retention; the same bytes already archived are
left alone, other bytes under the name are an error). The `.partial` segment's newly received
part goes up, locked the same way, as a chunk (`recovery.wal.streaming`) every `every` seconds
when it changed. A stored completed segment
is removed locally; the `.partial` stays, so pg_receivewal resumes where it was.
"""

import hashlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from policies.errors import HostError
from recovery.adapters import pg_tools
from recovery.backups.take import Source
from recovery.wal.archiver import Uploader
from recovery.wal.spool import SHA256_META
from recovery.wal.streaming import (
    WRITTEN_META,
    chunk_key,
    chunk_start,
    completed,
    last_message,
    newest_partial,
    partial_due,
    written_length,
)

log = logging.getLogger("crmdr.wal_stream")
SLOT = "crmdr_wal_stream"
POLL = 0.1
LOG_TAIL = 8192  # bytes of pg_receivewal's log read for its last message


@dataclass
class Progress:
    """What the stream has stored so far (the command's report)."""

    segments: list[str] = field(default_factory=list)
    partial: str | None = None  # the newest partial stored, and its received bytes
    partial_bytes: int = 0
    partial_uploads: int = 0


class Streamer:
    """Uploads what pg_receivewal wrote into `directory`; `step` does one pass."""

    def __init__(self, uploader: Uploader, directory: Path, every: float, progress: Progress) -> None:
        self.uploader, self.directory, self.every, self.progress = uploader, directory, every, progress
        self._last_look: float | None = None
        self._sent: tuple[str, int, str] | None = None  # partial name, bytes sent, their SHA-256

    def step(self, now: float) -> None:
        names = os.listdir(self.directory)
        for name in completed(names):
            done, _ = self.uploader.store_bytes((self.directory / name).read_bytes(), name)
            log.info("%s %s", name, done)
            self.progress.segments.append(name)
            (self.directory / name).unlink()
        partial = newest_partial(names)
        if partial is None or not partial_due(now, self._last_look, self.every):
            return
        self._last_look = now
        try:
            data = (self.directory / partial).read_bytes()
        except FileNotFoundError:
            return  # completed meanwhile: the next pass uploads it whole
        end = written_length(data)
        digest = hashlib.sha256(data[:end]).hexdigest()
        sent_end = self._sent[1] if self._sent and self._sent[0] == partial else 0
        if end == 0 or self._sent == (partial, end, digest):
            return
        start = chunk_start(sent_end)
        chunk = data[start:end]
        self.uploader.put_locked(chunk_key(partial, start), chunk,
                                 {SHA256_META: hashlib.sha256(chunk).hexdigest(), WRITTEN_META: str(end)})
        self._sent = (partial, end, digest)
        self.progress.partial, self.progress.partial_bytes = partial, end
        self.progress.partial_uploads += 1


def _run(command: list[str], password: str | None, log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", **({"PGPASSWORD": password} if password else {})}
    return subprocess.Popen(command, stdout=log_file, stderr=log_file,  # noqa: S603  # pg_receivewal, our args
                            stdin=subprocess.DEVNULL, env=env)


def _said(path: Path, since: int) -> str:
    """pg_receivewal's last message in its log after byte `since` (the log keeps earlier runs' lines)."""
    with path.open("rb") as log_file:
        log_file.seek(max(since, path.stat().st_size - LOG_TAIL))
        return last_message(log_file.read().decode(errors="replace")) or "no output in its log"


def _ended(code: int) -> str:
    """How a process ended, from its Popen return code (negative: the signal that killed it)."""
    if code >= 0:
        return f"exited {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def stream(src: Source, uploader: Uploader, directory: Path, every: float, progress: Progress) -> None:
    """Run until interrupted (SIGTERM/SIGINT raise Interrupted here); pg_receivewal is stopped on the way out.

    HostError when pg_receivewal cannot create the slot or exits by itself (naming how it ended and what it
    wrote to its log in this run).
    """
    wal_dir, log_path = directory / "wal", directory / "pg_receivewal.log"
    wal_dir.mkdir(parents=True, exist_ok=True)
    node, user = src.node, src.replication_user
    with log_path.open("ab") as log_file:
        since = log_file.seek(0, os.SEEK_END)
        created = _run(pg_tools.create_slot_command(node.bin_dir, node.host, node.pg_port, user, SLOT),
                       src.replication_password, log_file)
        if created.wait() != 0:
            raise HostError(f"pg_receivewal could not create slot {SLOT} on {node.name}: {_said(log_path, since)}")
        receiver = _run(pg_tools.receivewal_command(node.bin_dir, node.host, node.pg_port, user, str(wal_dir), SLOT),
                        src.replication_password, log_file)
        streamer = Streamer(uploader, wal_dir, every, progress)
        try:
            while receiver.poll() is None:
                streamer.step(time.monotonic())
                time.sleep(POLL)
            raise HostError(f"pg_receivewal {_ended(receiver.returncode)}: {_said(log_path, since)}; slot {SLOT} "
                            "keeps the primary's WAL until the stream runs again (drop it if it will not)")
        finally:
            if receiver.poll() is None:
                receiver.terminate()  # PostgreSQL 15's pg_receivewal flushes and exits on SIGTERM
                receiver.wait(timeout=30)
            streamer.every = 0.0
            streamer.step(time.monotonic())  # what it flushed last
