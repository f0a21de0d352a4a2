"""Acknowledgements drafted as files (one per customer, in their language) until a customer
notifier exists: someone sends them from the outbox. Files are 0600: they hold an address."""

import json
import os
from pathlib import Path

from outage.intake.notices import Acknowledgement


class DraftOutbox:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def acknowledge(self, ack: Acknowledgement) -> str:
        """Write (or rewrite: same request, same file) the draft; return its path."""
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._dir / f"{ack.reference}.json"
        draft = {"request_id": ack.request_id, "reference": ack.reference, "case_id": ack.case_id,
                 "language": ack.language, "to": ack.to, "subject": ack.subject, "body": ack.body}
        temporary = path.with_suffix(".tmp")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(draft, out, ensure_ascii=False, indent=2)
        temporary.replace(path)
        return f"draft {path}"
