"""A runbook's notices leave on one background thread: in order, all of them before the run's result."""

import threading

import pytest

from recovery.runbooks.notices import BackgroundNotices

pytestmark = pytest.mark.unit


class SlowNotifier:
    """Records subjects; the first publish waits until released, as a slow SNS call would."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = threading.Event()

    def publish(self, subject: str, message: str) -> None:
        if subject == "fail":
            raise RuntimeError("SNS said no")
        self.release.wait(5)
        self.sent.append(subject)


def test_publish_does_not_wait_and_flush_delivers_every_notice_in_order() -> None:
    notifier = SlowNotifier()
    notices = BackgroundNotices(notifier)
    for subject in ("started", "fence done", "fail", "promote done", "done"):
        notices.publish(subject, "")
    assert notices.sent == []  # nothing waited for the slow first publish
    notifier.release.set()
    notices.flush()
    assert notices.sent == ["started", "fence done", "promote done", "done"]  # the failing one only logged
