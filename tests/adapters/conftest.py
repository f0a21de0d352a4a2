"""The DR side adapter tests start from: moto (in-process, or a server for what a subprocess
calls) with the DR region's KMS key and Object Lock bucket."""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
import requests
from moto import mock_aws
from moto.server import ThreadedMotoServer

NET = int(os.environ.get("CRMDR_TEST_NET", "100"))
ENV = {"CRMDR_TEST_DB_PASSWORD": "not-a-real-one", "AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab",
       "AWS_DEFAULT_REGION": "us-west-2"}


@pytest.fixture
def dr_key_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Inside mock_aws: the KMS key id of the DR region's Object Lock bucket `crm-backups`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key_id = boto3.client("kms", region_name="us-west-2").create_key()["KeyMetadata"]["KeyId"]
        boto3.client("s3", region_name="us-west-2").create_bucket(
            Bucket="crm-backups", ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield key_id


@contextmanager
def moto_server(host: str) -> Iterator[str]:
    """A moto server on a free port of `host` while the block runs; its URL."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto server on this worker's loopback block, for the crmdr processes a test starts."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with moto_server(f"127.0.{NET}.61") as url:
        requests.post(f"{url}/moto-api/reset", timeout=10)  # the server shares this process's moto state
        yield url


def locked_dr_bucket(url: str) -> str:
    """Make the DR region's KMS key and Object Lock bucket `crm-backups` on the server; the key's id."""
    key_id: str = boto3.client("kms", region_name="us-west-2", endpoint_url=url).create_key()["KeyMetadata"]["KeyId"]
    boto3.client("s3", region_name="us-west-2", endpoint_url=url).create_bucket(
        Bucket="crm-backups", ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return key_id
