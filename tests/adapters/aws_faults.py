"""AWS errors injected into real boto3 clients, in front of moto.

moto answers every call it implements and cannot throttle, fail with a 5xx or deny a
caller on demand, so a `before-send` hook registered *first* (ahead of moto's own
before-send responder) answers the chosen operation with the error an AWS endpoint sends,
in that service's wire protocol. botocore calls every before-send handler and keeps the
first answer, so the hook also points the request at an address moto does not serve:
a denied call must not change moto's state. botocore then parses and retries it exactly as it would a
real one: what is tested is the client's retry configuration and the adapter's translation.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

THROTTLE = {"s3": ("SlowDown", 503), "dynamodb": ("ThrottlingException", 400), "route53": ("Throttling", 400),
            "sns": ("Throttling", 400), "rds": ("Throttling", 400)}
DENIED = {"s3": ("AccessDenied", 403), "dynamodb": ("AccessDeniedException", 400), "route53": ("AccessDenied", 403),
          "sns": ("AuthorizationError", 403), "rds": ("AccessDenied", 403)}
SERVER = ("InternalError", 500)
UNROUTABLE = "https://fault-injected.invalid/"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_body(protocol: str, code: str, message: str) -> tuple[bytes, dict[str, str]]:
    """An error as the service's protocol carries it."""
    if protocol == "json":
        return (json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode(),
                {"Content-Type": "application/x-amz-json-1.0"})
    error = f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    if protocol == "rest-xml" and code in ("SlowDown", "AccessDenied", "InternalError"):
        return error.encode(), {"Content-Type": "application/xml"}
    return (f"<ErrorResponse>{error}<RequestId>fault-1</RequestId></ErrorResponse>".encode(),
            {"Content-Type": "text/xml"})


@dataclass
class Fault:
    """Answer the first `times` attempts of `operation` with (code, status); count every attempt."""

    operation: str
    code: str
    status: int
    times: int = 1
    message: str = "injected by the test"
    protocol: str = "query"
    attempts: int = 0
    injected: int = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        self.attempts += 1
        if self.injected >= self.times:
            return None
        self.injected += 1
        body, headers = error_body(self.protocol, self.code, self.message)
        url, request.url = request.url, UNROUTABLE  # botocore asks every before-send handler: hide it from moto
        return AWSResponse(url, self.status, HTTPHeaders(headers), _Body(body))  # type: ignore[arg-type]


def inject(client: Any, fault: Fault) -> Fault:
    """Register `fault` on one client's `before-send` for its operation, ahead of moto."""
    model = client.meta.service_model
    fault.protocol = model.protocol
    client.meta.events.register_first(f"before-send.{model.service_id.hyphenize()}.{fault.operation}", fault)
    return fault


def throttle(client: Any, service: str, operation: str, times: int = 1) -> Fault:
    code, status = THROTTLE[service]
    return inject(client, Fault(operation, code, status, times))


def server_error(client: Any, service: str, operation: str, times: int = 1) -> Fault:
    return inject(client, Fault(operation, *SERVER, times))


def deny(client: Any, service: str, operation: str) -> Fault:
    code, status = DENIED[service]
    return inject(client, Fault(operation, code, status, times=10**6,
                                         message=f"User: arn:aws:iam::123456789012:user/drill is not authorized "
                                                 f"to perform: {service}:{operation}"))
