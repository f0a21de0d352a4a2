"""The WAL streamer: pg_receivewal into a local directory on the DR side, each file into the bucket.

Completed segments go through the archiver's Uploader (key `wal/<name>`, SHA-256 in the
metadata, SSE-KMS, Object Lock for the tier's retention; the same bytes already archived are
left alone, other bytes under the name are an error). The `.partial` segment's newly received
part goes up, locked the same way, as a chunk (`recovery.wal.streaming`) every `every` seconds
when it changed. A stored completed segment is removed locally; the `.partial` stays, so
pg_receivewal resumes where it was. When pg_receivewal exits (run with --no-loop) the primary is
looked for again among the inventory's nodes, so the stream follows a failover or switchover.
"""

import hashlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from policies.errors import HostError
from recovery.adapters import pg_tools
from recovery.adapters.postgres import connect
from recovery.backups.take import Source
from recovery.inventory import HostNode
from recovery.wal.archiver import Uploader
from recovery.wal.spool import SHA256_META
from recovery.wal.streaming import (
    PARTIAL,
    WRITTEN_META,
    backoff,
    chunk_key,
    chunk_start,
    completed,
    last_message,
    newest_partial,
    partial_due,
    pick_primary,
    written_length,
)

log = logging.getLogger("crmdr.wal_stream")
SLOT = "crmdr_wal_stream"
POLL = 0.1
LOG_TAIL = 8192  # bytes of pg_receivewal's log read for its last message
STABLE = 10.0  # seconds pg_receivewal must have run for its exit to restart the backoff
SUPERSEDED = ".crmdr-superseded"


@dataclass
class Progress:
    """What the stream has stored so far (the command's report)."""

    segments: list[str] = field(default_factory=list)
    partial: str | None = None  # the newest partial stored, and its received bytes
    partial_bytes: int = 0
    partial_uploads: int = 0
    sources: list[str] = field(default_factory=list)  # the nodes streamed from, in order


class Streamer:
    """Uploads what pg_receivewal wrote into `directory`; `step` does one pass."""

    def __init__(self, uploader: Uploader, directory: Path, every: float, progress: Progress) -> None:
        self.uploader, self.directory, self.every, self.progress = uploader, directory, every, progress
        self._last_look: float | None = None
        self._sent: tuple[str, int, str] | None = None  # partial name, bytes sent, their SHA-256

    def step(self, now: float, *, force: bool = False) -> None:
        names = os.listdir(self.directory)
        for name in completed(names):
            done, _ = self.uploader.store_bytes((self.directory / name).read_bytes(), name)
            log.info("%s %s", name, done)
            self.progress.segments.append(name)
            (self.directory / name).unlink()
        partial = newest_partial(names)
        if partial is None or not (force or partial_due(now, self._last_look, self.every)):
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

    def flush(self) -> None:
        """Store what was received, now (pg_receivewal has stopped)."""
        self.step(time.monotonic(), force=True)

    def set_aside(self) -> None:
        """Rename the local partials (of a node no longer primary): its bytes are stored; the new one starts anew."""
        for name in os.listdir(self.directory):
            if name.endswith(PARTIAL):
                (self.directory / name).rename(self.directory / f"{name}{SUPERSEDED}")
                log.warning("%s set aside as %s%s: the primary changed", name, name, SUPERSEDED)
        self._sent = None


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


def stream(src: Source, uploader: Uploader, directory: Path, every: float, progress: Progress,
           nodes: Sequence[HostNode] = ()) -> None:
    """Run until interrupted (SIGTERM/SIGINT raise Interrupted here); pg_receivewal is stopped on the way out.

    When pg_receivewal exits (the primary went away), the one node of `nodes` answering as a
    primary is streamed from next (backoff while none or two do); a partial received from a
    node no longer primary is set aside locally (its bytes are in the bucket; the new primary's
    timeline starts a new one). HostError when the first slot cannot be created.
    """
    wal_dir, log_path = directory / "wal", directory / "pg_receivewal.log"
    wal_dir.mkdir(parents=True, exist_ok=True)
    streamer = Streamer(uploader, wal_dir, every, progress)
    node: HostNode | None = src.node
    failures = 0
    with log_path.open("ab") as log_file:
        while True:
            ran = _receive(src, node, streamer, log_file, log_path) if node is not None else 0.0
            failures = 0 if ran >= STABLE else failures + 1
            time.sleep(backoff(failures))
            found = _primary(src, nodes or [src.node])
            if found is not None and progress.sources and found.name != progress.sources[-1]:
                streamer.set_aside()
            node = found


def _receive(src: Source, node: HostNode, streamer: Streamer, log_file: IO[bytes], log_path: Path) -> float:
    """Stream from `node` until pg_receivewal exits: the seconds it ran (0 when the slot could not be made)."""
    user, first = src.replication_user, not streamer.progress.sources
    since = log_file.seek(0, os.SEEK_END)
    created = _run(pg_tools.create_slot_command(node.bin_dir, node.host, node.pg_port, user, SLOT),
                   src.replication_password, log_file)
    if created.wait() != 0:
        if first:
            raise HostError(f"pg_receivewal could not create slot {SLOT} on {node.name}: {_said(log_path, since)}")
        log.warning("could not create slot %s on %s: %s", SLOT, node.name, _said(log_path, since))
        return 0.0
    receiver = _run(pg_tools.receivewal_command(node.bin_dir, node.host, node.pg_port, user, str(streamer.directory),
                                                SLOT), src.replication_password, log_file)
    began = time.monotonic()
    streamer.progress.sources.append(node.name)
    try:
        while receiver.poll() is None:
            streamer.step(time.monotonic())
            time.sleep(POLL)
        log.warning("pg_receivewal from %s %s: %s; looking for the primary", node.name,
                    _ended(receiver.returncode), _said(log_path, since))
        return time.monotonic() - began
    finally:
        if receiver.poll() is None:
            receiver.terminate()  # PostgreSQL 15's pg_receivewal flushes and exits on SIGTERM
            receiver.wait(timeout=30)
        streamer.flush()  # what it flushed last


def _primary(src: Source, nodes: Sequence[HostNode]) -> HostNode | None:
    """The one node answering as a primary now, or None (`streaming.pick_primary`)."""
    answers: dict[str, bool | None] = {}
    for node in nodes:
        try:
            with connect(node.host, node.pg_port, user=src.user, password=src.password, dbname=src.dbname,
                         timeout=3) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            answers[node.name] = bool(row[0]) if row else None
        except (HostError, psycopg.Error):
            answers[node.name] = None
    name = pick_primary(answers)
    return next((node for node in nodes if node.name == name), None)
