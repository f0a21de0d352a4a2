"""Status notices through the inventory's SNS topic in the DR region."""

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery.adapters.aws_session import client
from recovery.inventory import Inventory

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 100


class SnsNotifier:
    """A notice that cannot be sent is logged, never fatal: recovery must not wait on e-mail."""

    def __init__(self, inventory: Inventory) -> None:
        self._topic = inventory.notify.topic_arn
        self._sns: Any = client(inventory.aws, "sns", inventory.regions.dr)
        self.sent: list[str] = []

    def publish(self, subject: str, message: str) -> None:
        try:
            self._sns.publish(TopicArn=self._topic, Subject=subject[:SUBJECT_LIMIT], Message=message)
        except (ClientError, BotoCoreError) as err:
            log.warning("status notice not sent (%s): %s", type(err).__name__, subject)
            return
        self.sent.append(subject)
