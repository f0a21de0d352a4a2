"""The intake's DynamoDB store under moto: stored once per id, only ciphertext at rest, states
move forwards only, purge removes the personal data and keeps the reference."""

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from outage.adapters.dynamo_intake import DynamoIntakeStore
from outage.intake.model import IntakeRequest, reference_for, request_id_for, validate_fields
from policies.errors import VerificationFailed
from policies.intake import load_intake_schema

pytestmark = pytest.mark.adapters
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def make_request(token: str, name: str = "Ada Lovelace") -> IntakeRequest:
    fields, _ = validate_fields({"name": name, "email": "ada@example.com", "request_type": "case",
                                 "priority": "high", "description": "<b>broken</b>", "consent": "yes"},
                                load_intake_schema())
    assert fields is not None
    rid = request_id_for(token)
    return IntakeRequest(request_id=rid, reference=reference_for(rid), channel="api", language="de",
                         submitted_at=NOW, fields=fields)


@pytest.fixture
def store(dr_key_id: str) -> tuple[DynamoIntakeStore, Any]:
    ddb = boto3.client("dynamodb", region_name="us-west-2")
    ddb.create_table(TableName="intake", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}])
    return DynamoIntakeStore(ddb, boto3.client("kms", region_name="us-west-2"), "intake", dr_key_id), ddb


def test_a_retry_is_stored_once_and_reads_back_decrypted(store: tuple[DynamoIntakeStore, Any]) -> None:
    intake, ddb = store
    first = make_request("token-0001")
    assert intake.put(first) is True
    assert intake.put(make_request("token-0001", name="Someone Else")) is False, "first write wins"
    assert ddb.scan(TableName="intake")["Count"] == 1
    [(record, back)] = intake.requests(frozenset({"stored"}))
    assert back == first and record.state == "stored" and record.reference == first.reference


def test_only_ciphertext_reaches_the_table(store: tuple[DynamoIntakeStore, Any]) -> None:
    intake, ddb = store
    intake.put(make_request("token-0002"))
    item = ddb.scan(TableName="intake")["Items"][0]
    assert "Ada" not in repr(item) and "ada@example.com" not in repr(item) and "broken" not in repr(item)
    assert set(item) >= {"personal", "data_key", "request_type", "priority", "state"}


def test_a_ciphertext_moved_to_another_request_fails_its_check(store: tuple[DynamoIntakeStore, Any]) -> None:
    intake, ddb = store
    one, two = make_request("token-0003"), make_request("token-0004")
    intake.put(one)
    intake.put(two)
    items = {i["request_id"]["S"]: i for i in ddb.scan(TableName="intake")["Items"]}
    ddb.update_item(TableName="intake", Key={"request_id": {"S": two.request_id}},
                    UpdateExpression="SET personal = :p", ExpressionAttributeValues={
                        ":p": {"B": bytes(items[one.request_id]["personal"]["B"])}})
    with pytest.raises(VerificationFailed, match="integrity"):
        intake.requests(frozenset({"stored"}))


def test_states_move_forwards_and_purge_keeps_the_reference(store: tuple[DynamoIntakeStore, Any]) -> None:
    intake, ddb = store
    request = make_request("token-0005")
    intake.put(request)
    assert intake.mark_acknowledged(request.request_id, NOW) is False, "not entered yet"
    assert intake.mark_review(request.request_id, "no account") is True
    assert intake.mark_entered(request.request_id, 42, NOW) is True
    assert intake.mark_review(request.request_id, "again") is False, "an entered request never goes back"
    assert intake.mark_acknowledged(request.request_id, NOW) is True
    assert intake.purge(request.request_id, NOW) is True
    [record] = intake.records()
    assert (record.state, record.case_id, record.reference, record.review_reason) == \
        ("purged", 42, request.reference, None)
    item = ddb.scan(TableName="intake")["Items"][0]
    assert "personal" not in item and "data_key" not in item
    assert intake.requests(frozenset({"purged"})) == []
