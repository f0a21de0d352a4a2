"""The Lambda entry point (Mangum) with an API Gateway HTTP API event, storing into moto: the same
app answers 201 with a reference, and the request is in the table, encrypted."""

import json
from typing import Any

import boto3
import pytest

import outage.intake.service as service

pytestmark = pytest.mark.adapters


def http_api_event(body: dict[str, Any], source_ip: str = "198.51.100.7") -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": "/api/requests", "rawQueryString": "",
        "headers": {"content-type": "application/json", "accept-language": "de", "host": "x.execute-api"},
        "requestContext": {"http": {"method": "POST", "path": "/api/requests", "protocol": "HTTP/1.1",
                                    "sourceIp": source_ip, "userAgent": "test"},
                           "accountId": "123456789012", "apiId": "x", "domainName": "x.execute-api",
                           "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0},
        "body": json.dumps(body), "isBase64Encoded": False,
    }


def test_the_lambda_handler_stores_and_answers_with_a_reference(dr_key_id: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = boto3.client("dynamodb", region_name="us-west-2")
    ddb.create_table(TableName="intake", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}])
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("CRMDR_INTAKE_TABLE", "intake")
    monkeypatch.setenv("CRMDR_INTAKE_KMS_KEY", dr_key_id)
    monkeypatch.setattr(service, "_handler", None)
    body = {"name": "Ada", "email": "ada@example.com", "request_type": "case", "priority": "high",
            "description": "Lambda path", "consent": True, "client_token": "lambda-test-1"}
    answer = service.lambda_handler(http_api_event(body), None)
    assert answer["statusCode"] == 201, answer
    reference = json.loads(answer["body"])["reference"]
    assert reference.startswith("DT-")
    assert json.loads(service.lambda_handler(http_api_event(body), None)["body"])["reference"] == reference
    items = ddb.scan(TableName="intake")["Items"]
    assert len(items) == 1 and items[0]["reference"]["S"] == reference and "Lambda path" not in repr(items)
    bad = service.lambda_handler(http_api_event({**body, "email": "nope", "client_token": "lambda-test-2"}), None)
    assert bad["statusCode"] == 422 and "E-Mail-Adresse" in json.loads(bad["body"])["error"]
