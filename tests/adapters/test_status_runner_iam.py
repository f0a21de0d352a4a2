"""In AWS, a drill cannot alarm customers: the drill runner's policy lets it write the status page's
drill location and nothing else of that bucket (moto's IAM enforces S3 key patterns)."""

from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto.core import enable_iam_authentication

from infra.iam import drill_runner_policy
from outage.adapters.s3_status import S3StatusStore
from policies.errors import CloudError
from tests.adapters.test_runner_iam import REGION, dr_side, runner_user, scope  # noqa: F401  # dr_side: fixture
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters


def test_the_runner_writes_the_drill_location_only(dr_side: dict[str, Any]) -> None:  # noqa: F811
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="crm-status", CreateBucketConfiguration={"LocationConstraint": REGION})
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=dr_side["admin"].lock.table)["Table"]["TableArn"]
    policy = drill_runner_policy(replace(scope(table), status_bucket_arn="arn:aws:s3:::crm-status"))
    profile = runner_user(policy, dr_side["credentials"])
    runner = make_inventory(**{"aws.profile": profile,
                               "status": {"url": "https://status.example.com", "bucket": "crm-status"}})
    with enable_iam_authentication():
        drill = S3StatusStore(runner, drill=True)
        assert drill.create("log/i1/000001.json", b"{}") is True
        drill.put_site({"index.html": (b"<p>DRILL</p>", "text/html")})
        assert drill.read_all("log/") == [b"{}"]
        public = S3StatusStore(runner)
        with pytest.raises(CloudError, match="AccessDenied"):
            public.create("log/i1/000001.json", b"{}")
        with pytest.raises(CloudError, match="AccessDenied"):
            public.put_site({"index.html": (b"<p>outage</p>", "text/html")})
