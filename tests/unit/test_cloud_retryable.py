"""Only transient cloud errors are retried by the runbook engine: an AccessDenied or a
validation error is final, and retrying it three times wastes minutes of an outage and
buries the cause under "attempt 3"."""

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from policies.errors import CloudError
from recovery.adapters.aws_session import retryable
from recovery.runbooks.engine import Step
from recovery.runbooks.journal.files import read_events
from tests.unit.test_runbook_plan import World, _engine


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ChangeResourceRecordSets")


@pytest.mark.parametrize(("err", "expected"), [
    (_client_error("Throttling", 400), True),
    (_client_error("SlowDown", 503), True),
    (_client_error("ProvisionedThroughputExceededException", 400), True),
    (_client_error("InternalError", 500), True),
    (_client_error("RequestTimeout", 400), True),
    (ReadTimeoutError(endpoint_url="https://route53.amazonaws.com"), True),
    (EndpointConnectionError(endpoint_url="https://route53.amazonaws.com"), True),
    (_client_error("AccessDenied", 403), False),
    (_client_error("AccessDeniedException", 400), False),
    (_client_error("InvalidChangeBatch", 400), False),
    (_client_error("ValidationException", 400), False),
    (NoCredentialsError(), False),
    (ParamValidationError(report="bad"), False),
], ids=lambda v: type(v).__name__ if not isinstance(v, bool) else str(v))
def test_botocore_errors_are_classified(err: Exception, expected: bool) -> None:
    assert retryable(err) is expected


def test_cloud_error_is_retryable_unless_told_otherwise() -> None:
    assert CloudError("x").retryable is True
    assert CloudError("x", retryable=False).retryable is False
    assert str(CloudError("Route 53: denied", retryable=False)) == "Route 53: denied"


def test_engine_does_not_retry_a_final_cloud_error(tmp_path: Path) -> None:
    world = World()
    world.failures = [CloudError("Route 53: AccessDenied", retryable=False)] * 3
    with pytest.raises(CloudError, match="AccessDenied"):
        _engine(tmp_path).run_step(Step("dns", "", "dns", world.check, world.act, timeout=30, attempts=3))
    assert world.calls == 1
    assert [(e.status, e.attempt) for e in read_events("r1", tmp_path)] == [("started", 1), ("failed", 1)]


def test_engine_retries_a_transient_cloud_error(tmp_path: Path) -> None:
    world = World()
    world.failures = [CloudError("Route 53: Throttling", retryable=True)]
    _engine(tmp_path).run_step(Step("dns", "", "dns", world.check, world.act, timeout=30, attempts=3))
    assert world.calls == 2
    assert [e.status for e in read_events("r1", tmp_path)] == ["started", "failed", "started", "succeeded"]
