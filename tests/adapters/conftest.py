"""The DR side every adapter test starts from: in-process moto with a KMS key and a locked bucket."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws


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
