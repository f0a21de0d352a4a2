"""The run journal: one JSON line per step event, kept locally and mirrored to the DR bucket.

The local file is the source of truth while a run lives; the mirror (the whole file, put
after every event) lets another machine `--resume` a run whose laptop died. A mirror that
cannot be written is logged, not fatal. Puts run in order on one background thread, so a
step never waits for S3 (~20 ms each, a third of a second per failover); a put that finds a
newer file already queued carries it instead, and `flush()` waits for the last one.
"""

import logging
import os
import secrets as token
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from policies.errors import ConfigError, DrError
from recovery.ports import Clock, ObjectStore
from recovery.redact import redact
from recovery.runbooks.journal.events import Event, RunState, Status, run_state

log = logging.getLogger(__name__)

MIRROR_PREFIX = "runs/"
FILE_MODE = 0o640  # journals name hosts, commands and outputs: not for every local user
DIR_MODE = 0o750
EVIDENCE_LIMIT = 600  # characters of a reason or evidence kept in a journal line


def default_journal_dir() -> Path:
    return Path(os.environ.get("CRMDR_JOURNAL_DIR", ".crmdr/runs"))


def new_run_id(clock: Clock, runbook: str) -> str:
    """Sortable and unique: `failover-20260101T120000Z-1a2b3c`."""
    return f"{runbook}-{clock.now().strftime('%Y%m%dT%H%M%SZ')}-{token.token_hex(3)}"


class Journal:
    """Appends events of one run; `secrets` are scrubbed from every reason and evidence."""

    def __init__(self, run: str, runbook: str, directory: Path, clock: Clock, *,
                 mirror: ObjectStore | None = None, secrets: Iterable[str] = (), drill: bool = False) -> None:
        self.run = run
        self.runbook = runbook
        self.path = directory / f"{run}.jsonl"
        self._clock = clock
        self._mirror = mirror
        self._secrets = [s for s in secrets if s]
        self.drill = drill
        self.events: list[Event] = []
        self._pending: bytes | None = None
        self._pending_lock = threading.Lock()
        self._uploads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-journal-mirror") \
            if mirror is not None else None

    def record(self, step: str, status: Status, *, attempt: int = 1, reason: str = "", evidence: str = "",
               phase: str = "", at: tuple[datetime, float] | None = None) -> Event:
        """Append one event; `at` backdates it to when it happened (wall, monotonic)."""
        wall, mono = at or (self._clock.now(), self._clock.monotonic())
        event = Event(
            run=self.run, runbook=self.runbook, step=step, attempt=attempt, status=status,
            wall=wall.isoformat(timespec="milliseconds"), mono=round(mono, 6),
            reason=redact(reason, self._secrets, EVIDENCE_LIMIT),
            evidence=redact(evidence, self._secrets, EVIDENCE_LIMIT), phase=phase,
            drill=self.drill,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "a") as out:
            out.write(event.to_line() + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.events.append(event)
        self._push()
        return event

    def _push(self) -> None:
        if self._uploads is None:
            return
        with self._pending_lock:
            self._pending = self.path.read_bytes()
        self._uploads.submit(self._upload)

    def _upload(self) -> None:
        with self._pending_lock:
            data, self._pending = self._pending, None
        if data is None or self._mirror is None:
            return  # an earlier put already carried this event
        try:
            self._mirror.put_bytes(f"{MIRROR_PREFIX}{self.path.name}", data)
        except DrError as err:
            log.warning("journal mirror not updated: %s", err)

    def flush(self) -> None:
        """Wait until the mirror holds every event recorded so far."""
        if self._uploads is not None:
            self._uploads.submit(lambda: None).result()


def read_events(run: str, directory: Path, mirror: ObjectStore | None = None) -> list[Event]:
    """A run's events from the local journal, else from the DR bucket's mirror."""
    path = directory / f"{run}.jsonl"
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"--resume {run}: {path} is not a journal (not UTF-8 text)") from None
    elif mirror is not None:
        try:
            text = mirror.get_bytes(f"{MIRROR_PREFIX}{run}.jsonl").decode()
        except DrError:
            raise ConfigError(f"--resume {run}: no journal at {path} nor in the DR bucket") from None
    else:
        raise ConfigError(f"--resume {run}: no journal at {path}")
    events = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(Event.from_line(line))
        except (ValueError, TypeError) as err:
            if number == len(lines):
                log.warning("%s: ignoring a torn last line (the run crashed while writing it)", path)
                continue
            raise ConfigError(f"{path}: line {number}: not a journal event ({err})") from None
    return events


def read_runs(directory: Path, runbook: str) -> list[RunState]:
    """The state of every local run of `runbook` (journals that cannot be read are skipped, logged)."""
    states = []
    for path in sorted(directory.glob(f"{runbook}-*.jsonl")):
        try:
            states.append(run_state(read_events(path.stem, directory)))
        except (DrError, ValueError) as err:
            log.warning("%s: not read as a run journal: %s", path, err)
    return [state for state in states if state.runbook == runbook]
