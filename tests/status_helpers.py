"""Shared by the status tests: a webhook receiver that checks the HMAC, and a settable clock."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from outage.status.subscribers import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    problem: str | None  # why the HMAC check refused it, or None
    at: float


@dataclass
class Receiver:
    url: str
    secret: str
    posts: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 503 to this many posts first (to exercise the retries)


@contextmanager
def webhook_receiver(secret: str, host: str = "127.0.0.1", fail_first: int = 0) -> Iterator[Receiver]:
    """A real HTTP server that verifies each post's signature the way a subscriber would."""
    receiver = Receiver(url="", secret=secret, fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            problem = signature_problem(secret, self.headers.get(TIMESTAMP_HEADER, ""),
                                        self.headers.get(SIGNATURE_HEADER, ""), body, time.time())
            receiver.posts.append(Received(body, dict(self.headers), problem, time.monotonic()))
            failing = receiver.fail_first > 0
            receiver.fail_first -= 1
            self.send_response(503 if failing else 401 if problem else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    receiver.url = f"http://{host}:{server.server_address[1]}/hooks/status?token=do-not-log"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class SetClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.wall = start

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return 0.0

    def advance(self, **delta: float) -> None:
        self.wall += timedelta(**delta)
