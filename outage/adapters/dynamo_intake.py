"""The intake's durable store: one DynamoDB item per request in the DR region.

A request is written with a conditional put keyed by its id (`attribute_not_exists`), so a
retried submission (same client token, same id) is stored once. Personal fields travel as one
AES-GCM ciphertext under a KMS data key (see envelope.py); the table itself is encrypted with
the DR KMS key. State changes are conditional updates that never move a request backwards.
"""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from outage.intake.model import IntakeRequest, RequestFields, RequestRecord
from policies.errors import CloudError
from policies.intake import load_intake_schema
from recovery.adapters.aws_session import retryable
from recovery.adapters.envelope import Envelope
from recovery.inventory import Aws

log = logging.getLogger(__name__)



def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _time(item: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(item[name]["S"]) if name in item else None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


class DynamoIntakeStore:
    """Requests in `table`; `ddb` and `kms` are boto3 clients of the DR region. The schema's
    personal fields are encrypted; request type, priority and consent stay readable (listing)."""

    def __init__(self, ddb: Any, kms: Any, table: str, kms_key_id: str) -> None:
        self._ddb = ddb
        self._table = table
        self._envelope = Envelope(kms, kms_key_id)
        self._personal = tuple(load_intake_schema().personal_fields())

    @classmethod
    def connect(cls, aws: Aws, region: str, table: str, kms_key_id: str) -> "DynamoIntakeStore":
        from recovery.adapters.aws_session import client

        return cls(client(aws, "dynamodb", region), client(aws, "kms", region), table, kms_key_id)

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"DynamoDB {what} on table {self._table} failed ({type(err).__name__})",
                             retryable=retryable(err)) from None

    def put(self, request: IntakeRequest) -> bool:
        """Store durably; False when a request with this id was already stored (a retry)."""
        fields = request.fields
        personal = json.dumps({name: getattr(fields, name) for name in self._personal}, ensure_ascii=False).encode()
        sealed, wrapped = self._envelope.seal(personal, request.request_id.encode())
        item = {
            "request_id": _s(request.request_id), "reference": _s(request.reference),
            "channel": _s(request.channel), "language": _s(request.language),
            "submitted_at": _s(_iso(request.submitted_at)), "state": _s("stored"),
            "request_type": _s(fields.request_type), "priority": _s(fields.priority),
            "consent": {"BOOL": fields.consent}, "personal": {"B": sealed}, "data_key": {"B": wrapped},
        }
        try:
            self._ddb.put_item(TableName=self._table, Item=item,
                               ConditionExpression="attribute_not_exists(request_id)")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise CloudError(f"DynamoDB PutItem on table {self._table} failed ({type(err).__name__})",
                             retryable=retryable(err)) from None
        except BotoCoreError as err:
            raise CloudError(f"DynamoDB PutItem on table {self._table} failed ({type(err).__name__})") from None
        return True

    def _items(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            page = self._call("Scan", lambda: self._ddb.scan(**kwargs))
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _record(item: dict[str, Any]) -> RequestRecord:
        return RequestRecord(
            request_id=item["request_id"]["S"], reference=item["reference"]["S"], channel=item["channel"]["S"],
            language=item["language"]["S"], submitted_at=datetime.fromisoformat(item["submitted_at"]["S"]),
            request_type=item["request_type"]["S"], priority=item["priority"]["S"], state=item["state"]["S"],
            case_id=int(item["case_id"]["N"]) if "case_id" in item else None,
            entered_at=_time(item, "entered_at"), acknowledged_at=_time(item, "acknowledged_at"),
            review_reason=item.get("review_reason", {}).get("S"), purged_at=_time(item, "purged_at"),
        )

    def records(self) -> list[RequestRecord]:
        """Every request's state, without decrypting anything."""
        return sorted((self._record(item) for item in self._items()), key=lambda r: (r.submitted_at, r.request_id))

    def requests(self, states: frozenset[str]) -> list[tuple[RequestRecord, IntakeRequest]]:
        """Decrypted requests in `states` (purged ones have nothing left to decrypt)."""
        found = []
        for item in self._items():
            if item["state"]["S"] not in states or "personal" not in item:
                continue
            record = self._record(item)
            plain = self._envelope.open(bytes(item["personal"]["B"]), bytes(item["data_key"]["B"]),
                                        record.request_id.encode())
            fields = RequestFields(**json.loads(plain), request_type=record.request_type,
                                   priority=record.priority, consent=item.get("consent", {}).get("BOOL", True))
            found.append((record, IntakeRequest(
                request_id=record.request_id, reference=record.reference, channel=record.channel,
                language=record.language, submitted_at=record.submitted_at, fields=fields)))
        return found

    def _update(self, request_id: str, expression: str, values: dict[str, Any], allowed: tuple[str, ...]) -> bool:
        """A state change that only applies from `allowed` states (never backwards)."""
        names = [f":from{index}" for index in range(len(allowed))]
        values = {**values, **{name: _s(state) for name, state in zip(names, allowed, strict=True)}}
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"request_id": _s(request_id)}, UpdateExpression=expression,
                ConditionExpression=f"#state IN ({', '.join(names)})",
                ExpressionAttributeNames={"#state": "state"}, ExpressionAttributeValues=values)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise CloudError(f"DynamoDB UpdateItem on table {self._table} failed ({type(err).__name__})",
                             retryable=retryable(err)) from None
        return True

    def mark_entered(self, request_id: str, case_id: int, now: datetime) -> bool:
        return self._update(request_id, "SET #state = :s, case_id = :c, entered_at = :t REMOVE review_reason",
                            {":s": _s("entered"), ":c": {"N": str(case_id)}, ":t": _s(_iso(now))},
                            ("stored", "review"))

    def mark_review(self, request_id: str, reason: str) -> bool:
        return self._update(request_id, "SET #state = :s, review_reason = :r",
                            {":s": _s("review"), ":r": _s(reason)}, ("stored", "review"))

    def mark_acknowledged(self, request_id: str, now: datetime) -> bool:
        return self._update(request_id, "SET #state = :s, acknowledged_at = :t",
                            {":s": _s("acknowledged"), ":t": _s(_iso(now))}, ("entered",))

    def purge(self, request_id: str, now: datetime) -> bool:
        """Remove the personal data (ciphertext and its data key); the reference and case stay."""
        return self._update(request_id, "SET #state = :s, purged_at = :t REMOVE personal, data_key",
                            {":s": _s("purged"), ":t": _s(_iso(now))}, ("entered", "acknowledged"))
