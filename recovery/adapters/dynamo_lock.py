"""The recovery lease lock: one DynamoDB item in the DR region, taken by a conditional put.

The put succeeds only when no lock exists, the existing lease has expired, or it belongs to
the same run (a `--resume` takes over its own crashed run's lease). A holder renews the
lease while it runs; a crashed holder's lease simply expires.
"""

import getpass
import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError, Refused
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import Inventory

log = logging.getLogger(__name__)


def holder_id() -> str:
    """Who holds the lock, as a person reading the refusal would want to know."""
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


class DynamoLock:
    """Lock over the inventory's lock table; `name` scopes it (one per stack)."""

    def __init__(self, inventory: Inventory, name: str = "recovery", holder: str | None = None) -> None:
        self._table = inventory.lock.table
        self._lease = inventory.lock.lease_seconds
        self._key = {"lock_id": {"S": f"{inventory.stack}/{name}"}}
        self._db: Any = client(inventory.aws, "dynamodb", inventory.lock.region)
        self.holder = holder or holder_id()
        self._run: str | None = None

    def _put(self, run: str, condition: str, values: dict[str, Any]) -> None:
        expires = int(time.time()) + self._lease
        item = {**self._key, "holder": {"S": self.holder}, "run_id": {"S": run},
                "expires_at": {"N": str(expires)}}
        self._db.put_item(TableName=self._table, Item=item, ConditionExpression=condition,
                          ExpressionAttributeValues=values)

    def acquire(self, run: str) -> None:
        now = {"N": str(int(time.time()))}
        try:
            self._put(run, "attribute_not_exists(lock_id) OR expires_at < :now OR run_id = :run",
                      {":now": now, ":run": {"S": run}})
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise CloudError(f"lock table {self._table}: cannot take the lock ({err})",
                                 retryable=retryable(err)) from None
            raise Refused(self._held_message()) from None
        except BotoCoreError as err:
            raise CloudError(f"lock table {self._table}: cannot take the lock ({err})",
                             retryable=retryable(err)) from None
        self._run = run

    def _held_message(self) -> str:
        item = self.current() or {}
        until = datetime.fromtimestamp(int(item.get("expires_at", 0)), UTC).isoformat(timespec="seconds")
        return (f"another recovery holds the lock in {self._table}: {item.get('holder', '?')} "
                f"(run {item.get('run_id', '?')}, lease until {until}); refusing to start a second one")

    def current(self) -> dict[str, str] | None:
        """The lock item as plain strings, or None when nobody holds it."""
        try:
            item = self._db.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"lock table {self._table}: cannot read the lock ({err})",
                             retryable=retryable(err)) from None
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    def renew(self) -> None:
        if self._run is None:
            return
        try:
            self._put(self._run, "run_id = :run", {":run": {"S": self._run}})
        except (ClientError, BotoCoreError) as err:
            log.warning("could not renew the recovery lock: %s", type(err).__name__)

    def release(self) -> None:
        if self._run is None:
            return
        try:
            self._db.delete_item(TableName=self._table, Key=self._key, ConditionExpression="run_id = :run",
                                 ExpressionAttributeValues={":run": {"S": self._run}})
        except (ClientError, BotoCoreError) as err:
            log.warning("could not release the recovery lock: %s", type(err).__name__)
        self._run = None
