"""What subscribers receive and how a webhook proves it came from us: payloads, signatures, deliveries.

Webhooks carry Statuspage's incident shape and two headers: `X-Crmdr-Timestamp` (Unix seconds)
and `X-Crmdr-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` with the
subscriber's secret. A receiver recomputes it and refuses old timestamps (replays).
"""

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from outage.status.model import Incident, Update
from outage.status.page import LABELS
from outage.status.statuspage import incident_json, iso
from recovery.inventory import StatusPage

SIGNATURE_HEADER = "X-Crmdr-Signature"
TIMESTAMP_HEADER = "X-Crmdr-Timestamp"
Channel = Literal["page", "sns", "webhook"]


@dataclass(frozen=True)
class Delivery:
    """One update to one channel: delivered or why not. No secret, no query string, no address book."""

    incident: str
    seq: int
    channel: Channel
    target: str
    outcome: Literal["delivered", "failed", "withheld"]  # withheld: a drill, nothing sent to customers
    attempts: int
    at: str  # when the last attempt ended (ISO 8601 UTC)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def safe_target(url: str) -> str:
    """A webhook URL for logs: scheme, host and path only (query strings may carry tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signature_problem(secret: str, timestamp: str, signature: str, body: bytes, now: float,
                      tolerance: float = 300) -> str | None:
    """Why a received webhook must be refused, or None (receivers and tests use this)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a Unix time"
    if abs(now - sent) > tolerance:
        return f"{TIMESTAMP_HEADER} is {abs(now - sent):.0f}s away from now (replay?)"
    if not hmac.compare_digest(sign(secret, sent, body), signature):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None


def webhook_body(page: StatusPage, incident: Incident, update: Update) -> bytes:
    """Statuspage's webhook shape: meta, page, the incident with its updates."""
    payload = {"meta": {"unsubscribe": None, "documentation": None, "generated_at": iso(update.at)},
               "page": {"id": incident.id, "status_indicator": incident.impact,
                        "status_description": LABELS[page.language]["overall"][incident.impact]},
               "incident": incident_json(page, incident),
               "update": {"seq": update.seq, "status": update.state, "body": update.message,
                          "created_at": iso(update.at), "next_update_at": iso(update.next_update_at)}}
    return json.dumps(payload, sort_keys=True).encode()


def sns_text(page: StatusPage, update: Update) -> tuple[str, str]:
    """(subject, message) for the customers' topic (e-mail/SMS)."""
    state = LABELS[page.language]["states"][update.state]
    return f"[{state}] {update.title}"[:100], f"{update.message}\n\n{page.url}"
