"""Signed webhooks over HTTP: HMAC-SHA256 with a timestamp, retried with backoff, every try counted."""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from outage.status.subscribers import SIGNATURE_HEADER, TIMESTAMP_HEADER, Delivery, safe_target, sign

log = logging.getLogger(__name__)

ATTEMPTS = 4
TIMEOUT = 5.0


class _Retryable(Exception):
    """A 5xx, a 429 or a transport error: worth another try."""


class WebhookSender:
    """POSTs one body to one URL; returns the delivery, never raises for the receiver's faults."""

    def __init__(self, *, attempts: int = ATTEMPTS, backoff: float = 0.5,
                 wall: Callable[[], float] = time.time) -> None:
        self._attempts, self._backoff, self._wall = attempts, backoff, wall

    @staticmethod
    def _now_iso() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def send(self, url: str, secret: str, body: bytes, *, incident: str, seq: int) -> Delivery:
        tries = 0

        def post() -> httpx.Response:
            nonlocal tries
            tries += 1
            stamp = int(self._wall())  # signed per attempt: a retry carries a fresh timestamp
            headers = {"Content-Type": "application/json", "User-Agent": "crmdr-status/1",
                       TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
            except httpx.HTTPError as err:
                raise _Retryable(type(err).__name__) from err
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(f"HTTP {response.status_code}")
            return response

        retrying = Retrying(stop=stop_after_attempt(self._attempts), reraise=False,
                            wait=wait_exponential(multiplier=self._backoff, max=8),
                            retry=retry_if_exception_type(_Retryable))
        target = safe_target(url)
        try:
            response = retrying(post)
        except RetryError as err:
            reason = str(err.last_attempt.exception())
            log.warning("webhook %s not delivered after %d attempts: %s", target, tries, reason)
            return Delivery(incident, seq, "webhook", target, "failed", tries, self._now_iso(), reason)
        if response.status_code >= 300:
            return Delivery(incident, seq, "webhook", target, "failed", tries, self._now_iso(),
                            f"HTTP {response.status_code} (not retried)")
        return Delivery(incident, seq, "webhook", target, "delivered", tries, self._now_iso())
