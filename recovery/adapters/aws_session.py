"""boto3 sessions as the inventory and the user's environment say: profile, region, endpoint.

For the lab's stand-in (an `endpoint_url`), fixed dummy credentials are used when none are
configured, so the lab needs no AWS account.
"""

from datetime import datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from botocore.utils import parse_timestamp

from recovery.inventory import Aws, Backup

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30,
                 max_pool_connections=32)  # parallel GETs of small objects (catalog reads)

# Throttling and transient codes as botocore's standard retry mode knows them (retries/standard.py)
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "InternalFailure", "ServiceUnavailable",
})


def retryable(err: Exception) -> bool:
    """Whether trying `err`'s call again later can succeed: throttling, 5xx and timeouts can;
    access denied, validation and missing credentials cannot."""
    if isinstance(err, ClientError):
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        code = str(err.response.get("Error", {}).get("Code", ""))
        return code in TRANSIENT_CODES or status >= 500 or status == 429
    return isinstance(err, ConnectionError | HTTPClientError)


def _timestamp(value: Any) -> datetime:
    """ISO 8601 first (S3 listings: 10x faster than botocore's dateutil parse), else botocore's."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)


@cache
def _session(profile: str | None, lab: bool) -> boto3.session.Session:
    session = boto3.session.Session(profile_name=profile)
    if lab and session.get_credentials() is None:
        session = boto3.session.Session(aws_access_key_id="lab", aws_secret_access_key="lab")  # noqa: S106
    session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
    return session


def client(aws: Aws, service: str, region: str, read_timeout: float | None = None, *,
           probe_timeout: float | None = None) -> Any:
    """A client for `service` in `region`, honouring profile and the lab endpoint.

    `probe_timeout`: one attempt that connects and answers within that many seconds (a health
    check must report an unreachable API, not retry it for a minute)."""
    session = _session(aws.profile, aws.endpoint_url is not None)
    return session.client(  # type: ignore[call-overload]  # service names are checked by botocore
        service, region_name=region, endpoint_url=aws.endpoint_url, config=_config(read_timeout, probe_timeout)
    )


def backup_client(backup: Backup, aws: Aws, read_timeout: float | None = None, *,
                  probe_timeout: float | None = None) -> Any:
    """The S3 client of the backup bucket: on `backup.endpoint_url` (another S3-compatible server)
    with `backup.profile`'s keys and `backup.ca_bundle` for its TLS when the inventory names them;
    every other service keeps `aws`.
    Lab dummy keys only when the inventory is the lab's (`aws.endpoint_url`), never for a real store."""
    if backup.endpoint_url is None and backup.profile is None and backup.ca_bundle is None:
        return client(aws, "s3", backup.region, read_timeout, probe_timeout=probe_timeout)
    session = _session(backup.profile or aws.profile, aws.endpoint_url is not None)
    return session.client("s3", region_name=backup.region, endpoint_url=backup.endpoint_url or aws.endpoint_url,
                          config=_config(read_timeout, probe_timeout), verify=backup.ca_bundle)


def _config(read_timeout: float | None, probe_timeout: float | None) -> Config:
    config = RETRIES if read_timeout is None else RETRIES.merge(Config(read_timeout=read_timeout))
    if probe_timeout is not None:
        config = config.merge(Config(retries={"mode": "standard", "max_attempts": 1},
                                     connect_timeout=probe_timeout, read_timeout=probe_timeout))
    return config
