"""A runbook's status notices, sent in order on one background thread.

Each publish is a round trip to SNS (20-100 ms measured in the lab): a failover sends one when it
starts and one per finished phase, and in line they added ~0.3 s to its RTO. People need the
notices in order and soon, not before the next step runs; `flush()` waits for all of them (the
run's result lists what was sent), and a notice that fails is logged, as SnsNotifier does.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from recovery.ports import Notifier

log = logging.getLogger(__name__)


class BackgroundNotices:
    """Notifier-shaped: `publish` queues, `flush` waits until every queued notice was tried."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-notices")

    @property
    def sent(self) -> list[str]:
        return self._notifier.sent

    def publish(self, subject: str, message: str) -> None:
        self._pool.submit(self._send, subject, message)

    def _send(self, subject: str, message: str) -> None:
        try:
            self._notifier.publish(subject, message)
        except Exception as err:  # a notice never stops recovery; whatever the adapter raised is logged
            log.warning("status notice not sent (%s): %s", err, subject)

    def flush(self) -> None:
        """Wait for every notice queued so far, then stop the sender thread."""
        self._pool.shutdown(wait=True)
