"""The lab's intake provisioning under moto: its own single-Region key, the table encrypted with
it, idempotent, and a lab written before the intake existed gains one."""

import boto3
import pytest

from drills.lab import intake_server
from drills.lab.settings import LabSettings
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters


def test_provision_creates_key_and_table_once_and_fills_an_old_inventory(dr_key_id: str) -> None:
    old = make_inventory(environment="lab")
    assert old.intake is None
    settings = LabSettings(aws_ip="127.0.120.50", primary_ip="127.0.120.51", standby_ip="127.0.120.52",
                           dr_region="us-west-2")
    first = intake_server.provision(old, settings)
    assert first.intake is not None and first.intake.url == "http://127.0.120.55:8080"
    key_id = first.intake.kms_key_id
    assert key_id and key_id != dr_key_id and not key_id.startswith("mrk-")
    table = boto3.client("dynamodb", region_name="us-west-2").describe_table(TableName=first.intake.table)["Table"]
    assert table["SSEDescription"]["SSEType"] == "KMS" and key_id in table["SSEDescription"]["KMSMasterKeyArn"]
    again = intake_server.provision(first, settings)
    assert again == first, "a second up reuses the key and the table"
