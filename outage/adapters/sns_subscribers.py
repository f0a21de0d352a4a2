"""The customers' SNS topic (e-mail/SMS subscribers), apart from the operators' notice topic."""

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery.adapters.aws_session import client
from recovery.inventory import Inventory

log = logging.getLogger(__name__)


class SnsSubscribers:
    """Publishes to `status.topic_arn` in the DR region; a failure is returned, never raised."""

    def __init__(self, inventory: Inventory, topic_arn: str) -> None:
        self.topic = topic_arn
        self._sns: Any = client(inventory.aws, "sns", inventory.regions.dr)

    def publish(self, subject: str, message: str) -> str | None:
        """None when SNS accepted it, else why not."""
        try:
            self._sns.publish(TopicArn=self.topic, Subject=subject, Message=message)
        except (ClientError, BotoCoreError) as err:
            log.warning("customer notice not published to %s: %s", self.topic, type(err).__name__)
            return f"{type(err).__name__}: {err}"
        return None
