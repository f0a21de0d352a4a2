"""The downtime intake as the program declares it (Pulumi mocks): table and function in the DR
region, the table KMS-encrypted with the DR key, a role that can only store, an HTTP API in front,
and `intake` in the inventory."""

import json

import pytest

from recovery.inventory import Inventory
from tests.infra.conftest import INFRA, preview_for

pytestmark = INFRA
DR = "eu-central-1"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"


@pytest.mark.parametrize("strategy", ["backup-restore", "warm-standby"])
def test_the_intake_lives_in_the_dr_region_under_its_component(strategy: str) -> None:
    run = preview_for(strategy)
    table = run.named(TABLE, "dr-intake-table")
    function = run.named(FUNCTION, "dr-intake-function")
    assert table.region == function.region == DR
    assert table.component == function.component == "dr-intake"
    assert table.component_type == "crm-dr:infra:DowntimeIntake"
    assert table.inputs["hashKey"] == "request_id"
    sse = table.inputs["serverSideEncryption"]
    assert sse["enabled"] is True and sse["kmsKeyArn"].split(":")[3] == DR
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True
    assert table.inputs["deletionProtectionEnabled"] is True
    assert function.inputs["handler"] == "outage.intake.service.lambda_handler"
    variables = function.inputs["environment"]["variables"]
    assert variables["CRMDR_INTAKE_KMS_KEY"] == sse["kmsKeyArn"]
    assert run.named("aws:apigatewayv2/api:Api", "dr-intake-api").inputs["protocolType"] == "HTTP"
    assert run.named("aws:apigatewayv2/route:Route", "dr-intake-route").inputs["routeKey"] == "$default"


def test_the_function_can_store_requests_but_never_read_or_delete_them() -> None:
    run = preview_for("pilot-light")
    policy = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", "dr-intake-policy").inputs["policy"])
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert actions == ["dynamodb:PutItem", "kms:GenerateDataKey", "logs:CreateLogStream", "logs:PutLogEvents"]


def test_the_inventory_names_the_intake() -> None:
    run = preview_for("pilot-light")
    inventory = Inventory.model_validate(run.outputs["dr_inventory"])
    assert inventory.intake is not None
    assert inventory.intake.table == "crm-dr-test-intake" and inventory.intake.region == DR
    assert inventory.intake.kms_key_id == inventory.backup.kms_key_id
    assert inventory.intake.url.startswith("https://") and inventory.intake.url.endswith(
        f".execute-api.{DR}.amazonaws.com")
